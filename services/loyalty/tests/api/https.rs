//! HTTPS out: the relay delivers to a partner whose certificate chains to the
//! configured extra CA.

use cinema_proto::common::v1::BookingStatus::Confirmed;
use cinema_proto::loyalty::v1::PartnerRelayStatus;
use cinema_testkit::tls::TestCa;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_accrual_reaches_an_https_partner_whose_ca_is_trusted() {
    let ca = TestCa::new();
    let partner = FakePartner::start_https(&ca).await;
    assert!(partner.url().starts_with("https://127.0.0.1:"), "{}", partner.url());
    let app = spawn_app_trusting(partner.url(), Some(ca.ca_file())).await;
    let (customer, booking, member) = (unique("park-"), unique("BK"), unique("M-"));
    app.link(&customer, PARTNER, &member).await.expect("link");

    app.publish(&status_changed(&customer, &booking, Confirmed, 24_000)).await;
    let points = app.settled(&customer, 1).await;
    let accrual = &points.history[0];
    assert_eq!(relay_of(accrual), (PARTNER.to_owned(), PartnerRelayStatus::Delivered, 1));

    let [request] = &partner.server.requests_about(&booking)[..] else { panic!("one request") };
    assert_eq!(request.path, "/v1/accruals");
    assert_eq!(request.header("authorization"), format!("Bearer {API_KEY}"));
    assert_eq!(request.header("idempotency-key"), accrual.entry_id);
    assert_eq!(partner.effects_for(&member), [(accrual.entry_id.clone(), 1_200)]);
}
