use std::time::Duration;

use cinema_mesh::identity::{Identity, Role};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1 as ev;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::topics;
use cinema_testkit::eventually;
use tonic::Code;

use crate::helpers::{TestApp, publish, spawn_app, view_entry};

#[tokio::test]
async fn list_pages_newest_first() {
    let app = spawn_app().await;
    for n in 1..=5 {
        app.create(&format!("BK-LIST-{n}"), "cust-list").await.unwrap();
    }
    app.create("BK-OTHER-1", "cust-other").await.unwrap();

    let mut numbers = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app.list("cust-list", 2, &token).await.unwrap();
        pages += 1;
        numbers.extend(page.bookings.into_iter().map(|b| b.booking_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(numbers, ["BK-LIST-5", "BK-LIST-4", "BK-LIST-3", "BK-LIST-2", "BK-LIST-1"].map(|n| app.n(n)));

    let all = app.list("cust-list", 0, "").await.unwrap();
    assert_eq!(all.bookings.len(), 5);
    assert!(all.next_page_token.is_empty());

    assert_eq!(app.list("cust-list", 2, "garbage").await.unwrap_err().code(), Code::InvalidArgument);
    let nobody = pb::ListBookingsRequest { customer_id: String::new(), page_size: 2, page_token: String::new() };
    let status = app.queries.clone().list_bookings(Identity::customer("cust-list").request(nobody)).await;
    assert_eq!(status.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn watch_streams_every_change_until_final() {
    let app = spawn_app().await;
    app.create("BK-WATCH-1", "cust-1").await.unwrap();
    let mut stream = app
        .queries
        .clone()
        .watch_booking(
            Identity::customer("cust-1").request(pb::WatchBookingRequest { booking_number: app.n("BK-WATCH-1") }),
        )
        .await
        .unwrap()
        .into_inner();
    let next = async |s: &mut tonic::Streaming<pb::Booking>| {
        tokio::time::timeout(Duration::from_secs(5), s.message()).await.expect("an update in time").unwrap()
    };
    assert_eq!(next(&mut stream).await.unwrap().status(), BookingStatus::Pending);
    app.confirm("BK-WATCH-1").await.unwrap();
    assert_eq!(next(&mut stream).await.unwrap().status(), BookingStatus::Confirmed);
    app.cancel("BK-WATCH-1").await.unwrap();
    let last = next(&mut stream).await.unwrap();
    assert_eq!((last.status(), last.version), (BookingStatus::Cancelled, 3));
    assert!(next(&mut stream).await.is_none(), "the stream ends at a final status");

    let error = app
        .queries
        .clone()
        .watch_booking(
            Identity::customer("cust-1").request(pb::WatchBookingRequest { booking_number: app.n("BK-NOPE") }),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
}

#[tokio::test]
async fn only_the_owner_reads_a_booking() {
    let app = spawn_app().await;
    app.create("BK-OWN-1", "cust-1").await.unwrap();
    assert_eq!(app.get("BK-OWN-1").await.unwrap().customer_id, "cust-1");

    // Someone else's booking is not found, exactly like an unknown number.
    let stranger = Identity::customer("cust-2");
    for error in
        [app.get_as(&stranger, "BK-OWN-1").await.unwrap_err(), app.get_as(&stranger, "BK-NOPE").await.unwrap_err()]
    {
        assert_eq!(error.code(), Code::NotFound, "{error:?}");
        assert_eq!(crate::helpers::reason(&error).as_deref(), Some("BOOKING_NOT_FOUND"));
    }
    let watch = pb::WatchBookingRequest { booking_number: app.n("BK-OWN-1") };
    let error = app.queries.clone().watch_booking(stranger.request(watch.clone())).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);

    // Without the gateway's identity: refused (defence in depth).
    let anonymous = pb::GetBookingRequest { booking_number: app.n("BK-OWN-1"), min_version: 0 };
    assert_eq!(app.queries.clone().get_booking(anonymous).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(app.queries.clone().watch_booking(watch).await.unwrap_err().code(), Code::Unauthenticated);
    let mut forged = tonic::Request::new(pb::GetBookingRequest { booking_number: app.n("BK-OWN-1"), min_version: 0 });
    forged.metadata_mut().insert(cinema_mesh::identity::HEADER, "not-a-payload".parse().unwrap());
    assert_eq!(app.queries.clone().get_booking(forged).await.unwrap_err().code(), Code::Unauthenticated);

    // Someone else's list: refused, whatever it holds.
    let list = pb::ListBookingsRequest { customer_id: "cust-1".into(), page_size: 0, page_token: String::new() };
    let error = app.queries.clone().list_bookings(stranger.request(list)).await.unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}

/// The events of one booking from the other services: seats held, then
/// sold; the payment captured.
async fn seats_and_payment(app: &TestApp, number: &str) {
    let seats = vec!["A-1".to_owned(), "A-2".to_owned()];
    let expires_at = prost_types::Timestamp { seconds: 1_900_000_000, nanos: 0 };
    let held = ev::SeatsHeld {
        booking_number: number.into(),
        seat_ids: seats.clone(),
        expires_at: Some(expires_at),
        ..Default::default()
    };
    publish(topics::SEATS_HELD, number, 1, &held).await;
    let captured = ev::PaymentCaptured {
        payment_id: "pay-1".into(),
        booking_number: number.into(),
        customer_id: "cust-1".into(),
        amount: Some(Money { currency: "KRW".into(), amount: 24_000 }),
    };
    publish(topics::PAYMENT_CAPTURED, "pay-1", 1, &captured).await;
    let sold = ev::SeatsSold { booking_number: number.into(), seat_ids: seats, ..Default::default() };
    publish(topics::SEATS_SOLD, number, 2, &sold).await;
    let _ = app;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_view_joins_the_booking_the_payment_and_the_seats() {
    let app = spawn_app().await;
    let number = app.n("BK-VIEW-1");
    app.create("BK-VIEW-1", "cust-1").await.unwrap();
    seats_and_payment(&app, &number).await;
    app.confirm("BK-VIEW-1").await.unwrap();

    let booking =
        eventually(Duration::from_secs(10), "the view has the booking, the payment and the seats", || async {
            let b = app.get("BK-VIEW-1").await.ok()?;
            (b.version == 2
                && b.seats_status() == pb::SeatsStatus::Sold
                && b.payment_status() == pb::PaymentStatus::Captured)
                .then_some(b)
        })
        .await;
    assert_eq!(booking.status(), BookingStatus::Confirmed);
    assert!(booking.revision > 0, "read from the view");
    assert_eq!((booking.movie_title.as_str(), booking.screen_name.as_str()), ("Dune", "1관"));
    assert_eq!(booking.amount.map(|m| m.amount), Some(24_000));
    assert!(booking.hold_expires_at.is_none(), "sold seats have no hold");
    assert_eq!(booking.seat_ids, ["A-1", "A-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn min_version_reads_your_own_write() {
    let app = spawn_app().await;
    app.create("BK-RYW-1", "cust-1").await.unwrap();
    let confirmed = app.confirm("BK-RYW-1").await.unwrap();
    let request = pb::GetBookingRequest { booking_number: app.n("BK-RYW-1"), min_version: confirmed.version };
    let read =
        app.queries.clone().get_booking(Identity::customer("cust-1").request(request)).await.unwrap().into_inner();
    assert_eq!((read.status(), read.version), (BookingStatus::Confirmed, 2));
    assert!(read.revision > 0, "the view had it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_view_equals_the_live_one_and_a_second_rebuild_changes_nothing() {
    let app = spawn_app().await;
    let numbers: Vec<String> = (1..=3).map(|i| app.n(&format!("BK-REBUILD-{i}"))).collect();
    for (i, number) in numbers.iter().enumerate() {
        let name = format!("BK-REBUILD-{}", i + 1);
        app.create(&name, "cust-1").await.unwrap();
        seats_and_payment(&app, number).await;
        app.confirm(&name).await.unwrap();
        if i == 0 {
            app.cancel(&name).await.unwrap();
        }
    }
    // The live view has every event of the three bookings.
    for number in &numbers {
        eventually(Duration::from_secs(10), "the live view catches up", || async {
            let (view, _) = view_entry(&app.bucket, number).await?;
            (view["seats"]["status"] == "SOLD"
                && view["payment"].is_object()
                && view["booking"]["version"].as_u64() >= Some(2))
            .then_some(())
        })
        .await;
    }

    let rebuilt_bucket = format!("{}-rebuilt", app.bucket);
    let request = pb::RebuildViewRequest { bucket: rebuilt_bucket.clone() };
    let operator = Identity::new("ops-kim", &[Role::Operator]);
    let refused = app.admin.clone().rebuild_view(Identity::customer("cust-1").request(request.clone())).await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied, "a customer may not rebuild the view");
    let answer = app.admin.clone().rebuild_view(operator.request(request)).await.unwrap().into_inner();
    assert_eq!(answer.bucket, rebuilt_bucket);
    assert!(answer.bookings >= 3 && answer.events_read >= 15, "{answer:?}");
    for number in &numbers {
        let (live, _) = view_entry(&app.bucket, number).await.expect("live");
        let (rebuilt, _) = view_entry(&rebuilt_bucket, number).await.expect("rebuilt");
        assert_eq!(rebuilt, live, "{number}");
    }

    // Into the live view: every entry already agrees, so no revision moves.
    let before: Vec<u64> = revisions(&app.bucket, &numbers).await;
    app.admin.clone().rebuild_view(operator.request(pb::RebuildViewRequest { bucket: String::new() })).await.unwrap();
    assert_eq!(revisions(&app.bucket, &numbers).await, before);

    let bad = app
        .admin
        .clone()
        .rebuild_view(operator.request(pb::RebuildViewRequest { bucket: "no spaces".into() }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let js = async_nats::jetstream::new(async_nats::connect(cinema_testkit::nats_url()).await.unwrap());
    js.delete_key_value(&rebuilt_bucket).await.unwrap();
}

async fn revisions(bucket: &str, numbers: &[String]) -> Vec<u64> {
    let mut revisions = Vec::new();
    for number in numbers {
        revisions.push(view_entry(bucket, number).await.expect("an entry").1);
    }
    revisions
}
