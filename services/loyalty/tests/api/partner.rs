//! Linking a partner membership and relaying accruals and revocations to it.

use std::time::Instant;

use cinema_proto::common::v1::BookingStatus::{Cancelled, Confirmed};
use cinema_proto::loyalty::v1::PartnerRelayStatus;
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_customers_accrual_and_revocation_reach_the_partner_once_each() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (customer, booking, member) = (unique("kim-"), unique("BK"), unique("M-"));
    let link = app.link(&customer, PARTNER, &member).await.expect("link");
    assert_eq!((link.partner_id.as_str(), link.member_number.as_str()), (PARTNER, member.as_str()));

    let published = Instant::now();
    app.publish(&status_changed(&customer, &booking, Confirmed, 24_000)).await;
    let points = app.settled(&customer, 1).await;
    eprintln!("published CONFIRMED -> partner applied: {:?}", published.elapsed());
    assert_eq!(points.balance, 1_200);
    assert_eq!(points.partner.as_ref().map(|p| p.member_number.as_str()), Some(member.as_str()));
    let accrual = &points.history[0];
    assert_eq!(relay_of(accrual), (PARTNER.to_owned(), PartnerRelayStatus::Delivered, 1));

    let [request] = &partner.server.requests_about(&booking)[..] else { panic!("one request") };
    assert_eq!(request.path, "/v1/accruals");
    assert_eq!(request.header("idempotency-key"), accrual.entry_id);
    assert_eq!(request.header("authorization"), format!("Bearer {API_KEY}"));
    let body = request.json();
    assert_eq!(body["idempotency_key"], accrual.entry_id);
    assert_eq!(body["partner_id"], PARTNER);
    assert_eq!(body["member_number"], member.as_str());
    assert_eq!(body["booking_number"], booking.as_str());
    assert_eq!(body["kind"], "ACCRUAL");
    assert_eq!(body["points"], 1_200);

    app.publish(&status_changed(&customer, &booking, Cancelled, 24_000)).await;
    let points = app.settled(&customer, 2).await;
    assert_eq!(points.balance, 0);
    let revocation = &points.history[0];
    assert_eq!(revocation.points, -1_200);
    assert_eq!(relay_of(revocation), (PARTNER.to_owned(), PartnerRelayStatus::Delivered, 1));
    let mut effects = partner.effects_for(&member);
    effects.sort();
    let mut expected = vec![(accrual.entry_id.clone(), 1_200), (revocation.entry_id.clone(), -1_200)];
    expected.sort();
    assert_eq!(effects, expected);
    assert_eq!(partner.balance_of(&member), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_partner_applies_each_entry_once_despite_outages_lost_answers_and_duplicates() {
    let partner = FakePartner::start().await;
    // Two outage answers; then the partner applies but its answer is lost, twice.
    partner.script(&[Step::Fail(503), Step::Fail(502), Step::ApplyThenFail(500), Step::ApplyThenHang]);
    let app = spawn_app(partner.url()).await;
    let (customer, booking, member) = (unique("lee-"), unique("BK"), unique("M-"));
    app.link(&customer, PARTNER, &member).await.expect("link");

    // The same event three times, and the same status change under a new event id.
    let confirmed = status_changed(&customer, &booking, Confirmed, 30_000);
    let first = envelope(&confirmed);
    for _ in 0..3 {
        app.publish_envelope(&first).await;
    }
    app.publish(&confirmed).await;

    let points = app.settled(&customer, 1).await;
    assert_eq!(points.balance, 1_500);
    let (_, status, attempts) = relay_of(&points.history[0]);
    assert_eq!((status, attempts), (PartnerRelayStatus::Delivered, 5));
    let requests = partner.server.requests_about(&booking);
    assert_eq!(requests.len(), 5, "four failures (one a timeout), then the retry the partner dedupes");
    eprintln!("partner: first attempt -> acknowledged retry {:?}", requests[4].at - requests[0].at);
    assert!(requests.iter().all(|r| r.header("idempotency-key") == points.history[0].entry_id));
    assert_eq!(partner.effects_for(&member), [(points.history[0].entry_id.clone(), 1_500)], "one effect");

    // Cancelled twice: one revocation, the balance never below zero, here or there.
    app.publish(&status_changed(&customer, &booking, Cancelled, 30_000)).await;
    app.publish(&status_changed(&customer, &booking, Cancelled, 30_000)).await;
    app.drained().await;
    let points = app.settled(&customer, 2).await;
    assert_eq!(points.balance, 0);
    assert_eq!(partner.balance_of(&member), 0);
    assert_eq!(partner.effects_for(&member).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_linked_accruals_are_relayed_and_a_revocation_follows_its_accrual() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (customer, member) = (unique("park-"), unique("M-"));
    let (before_link, linked, after_unlink) = (unique("BK"), unique("BK"), unique("BK"));

    app.publish(&status_changed(&customer, &before_link, Confirmed, 10_000)).await;
    app.settled(&customer, 1).await;
    app.link(&customer, PARTNER, &member).await.expect("link");
    app.publish(&status_changed(&customer, &linked, Confirmed, 20_000)).await;
    app.settled(&customer, 2).await;
    assert!(app.unlink(&customer).await);
    assert!(!app.unlink(&customer).await, "nothing left to unlink");
    app.publish(&status_changed(&customer, &after_unlink, Confirmed, 40_000)).await;
    // The accrual relayed while linked is revoked at the same membership.
    app.publish(&status_changed(&customer, &linked, Cancelled, 20_000)).await;
    let points = app.settled(&customer, 4).await;

    assert_eq!(points.balance, 500 + 2_000);
    assert!(points.partner.is_none());
    let relayed: Vec<(&str, i64)> = points
        .history
        .iter()
        .filter(|e| e.partner_relay.is_some())
        .map(|e| (e.booking_number.as_str(), e.points))
        .collect();
    assert_eq!(relayed, [(linked.as_str(), -1_000), (linked.as_str(), 1_000)], "newest first");
    assert!(partner.server.requests_about(&before_link).is_empty());
    assert!(partner.server.requests_about(&after_unlink).is_empty());
    assert_eq!(partner.balance_of(&member), 0);
    assert_eq!(partner.effects_for(&member).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_checks_the_partner_and_the_member_number() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let customer = unique("choi-");

    let unknown = app.link(&customer, "another-program", "1234-5678").await.unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().contains("partner_id"), "{unknown:?}");
    let bad = app.link(&customer, PARTNER, "12").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("member_number"), "{bad:?}");
    let empty = cinema_proto::loyalty::v1::LinkPartnerRequest::default();
    let as_customer = cinema_mesh::identity::Identity::customer(&customer).request(empty);
    let missing = app.client.clone().link_partner(as_customer).await.unwrap_err();
    for field in ["customer_id", "partner_id", "member_number"] {
        assert!(missing.message().contains(field), "{missing:?}");
    }
    assert!(app.points(&customer).await.partner.is_none(), "nothing was linked");

    app.link(&customer, PARTNER, "1111-1111").await.expect("link");
    let relinked = app.link(&customer, PARTNER, "2222-2222").await.expect("relink");
    assert_eq!(relinked.member_number, "2222-2222");
    let shown = app.points(&customer).await.partner.expect("a link");
    assert_eq!((shown.partner_id.as_str(), shown.member_number.as_str()), (PARTNER, "2222-2222"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_reads_and_links_only_their_own_account() {
    use cinema_mesh::identity::Identity;
    use cinema_proto::loyalty::v1 as pb;

    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (kim, lee) = (unique("kim-"), Identity::customer(unique("lee-")));
    let points = || pb::GetPointsRequest { customer_id: kim.clone(), page_size: 10, page_token: String::new() };
    let link = || pb::LinkPartnerRequest {
        customer_id: kim.clone(),
        partner_id: PARTNER.into(),
        member_number: "1234-5678".into(),
    };
    let unlink = || pb::UnlinkPartnerRequest { customer_id: kim.clone() };

    // Someone else: refused, and nothing is linked.
    let mut client = app.client.clone();
    let refused = [
        client.get_points(lee.request(points())).await.unwrap_err(),
        client.link_partner(lee.request(link())).await.unwrap_err(),
        client.unlink_partner(lee.request(unlink())).await.unwrap_err(),
    ];
    for status in refused {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // No identity at all (bypassing the gateway): refused.
    assert_eq!(client.get_points(points()).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(client.link_partner(link()).await.unwrap_err().code(), Code::Unauthenticated);
    assert!(!app.unlink(&kim).await, "the refused link wrote nothing");
}
