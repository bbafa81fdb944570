//! HTTPS out: a receiver whose certificate chains to the configured extra CA
//! gets the notification; without that CA the same receiver is not trusted.

use cinema_notification::signature::{self, DEFAULT_TOLERANCE};
use cinema_notification::{App, Config};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::notification::v1::DeliveryStatus;
use cinema_testkit::TestDatabase;
use cinema_testkit::fake_http::FakeServer;
use cinema_testkit::tls::TestCa;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn kakao_and_webhook_over_https_are_delivered_when_their_ca_is_trusted() {
    let ca = TestCa::new();
    let kakao = FakeServer::start_https("/alimtalk/v2/messages", &ca).await;
    let hook = FakeServer::start_https("/hooks/cinema", &ca).await;
    assert!(kakao.url.starts_with("https://127.0.0.1:") && hook.url.starts_with("https://127.0.0.1:"));
    let setup = Setup {
        channels: &["kakao", "webhook"],
        kakao_url: &kakao.url,
        webhook_url: &hook.url,
        tls_ca_file: Some(ca.ca_file()),
        ..Setup::default()
    };
    let app = spawn_app(setup).await;
    let number = booking_number();

    let envelope = app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;
    let all = app.settled(&number, 2).await;
    for d in &all {
        assert_eq!((status_of(d), d.attempts, d.last_error.as_str()), (DeliveryStatus::Delivered, 1, ""), "{d:?}");
    }

    let [k] = &kakao.requests_about(&number)[..] else { panic!("one Kakao request: {:?}", kakao.requests()) };
    assert_eq!(k.path, "/alimtalk/v2/messages");
    assert_eq!(k.header("idempotency-key"), envelope.event_id);
    assert_eq!(k.json()["senderKey"], SENDER_KEY);
    let [w] = &hook.requests_about(&number)[..] else { panic!("one webhook request: {:?}", hook.requests()) };
    assert_eq!(w.header("idempotency-key"), envelope.event_id);
    let (timestamp, signed) = (w.header("x-cinema-timestamp"), w.header("x-cinema-signature"));
    let now = chrono::Utc::now().timestamp();
    let verified = signature::verify(WEBHOOK_SECRET.as_bytes(), timestamp, signed, &w.body, now, DEFAULT_TOLERANCE);
    assert_eq!(verified, Ok(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_extra_ca_an_https_receiver_is_not_trusted() {
    let ca = TestCa::new();
    let hook = FakeServer::start_https("/hooks/cinema", &ca).await;
    // System roots only.
    let setup = Setup { channels: &["log", "webhook"], webhook_url: &hook.url, max_attempts: 3, ..Setup::default() };
    let app = spawn_app(setup).await;
    let number = booking_number();

    app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;
    let all = app.settled(&number, 2).await;
    let w = by_channel(&all, "webhook");
    let refused = (DeliveryStatus::DeadLettered, 3, "TLS: invalid peer certificate: UnknownIssuer");
    assert_eq!((status_of(w), w.attempts, w.last_error.as_str()), refused, "{w:?}");
    assert_eq!(status_of(by_channel(&all, "log")), DeliveryStatus::Delivered);
    assert!(hook.requests().is_empty(), "nothing was sent over the untrusted connection: {:?}", hook.requests());
}

#[tokio::test]
async fn a_ca_file_that_holds_no_certificate_stops_the_app_at_start() {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), "not a certificate\n").expect("write it");
    let database = TestDatabase::new("notification");
    let mut config = Config { tls_ca_file: file.path().display().to_string(), ..Config::default() };
    // Where it would have gone had it started.
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    let Err(error) = App::build(config).await else { panic!("the app started with a CA file holding no certificate") };
    let expected = format!("tls_ca_file (CINEMA_TLS_CA_FILE): the CA file {}: ", file.path().display());
    assert_eq!(format!("{error:#}"), format!("{expected}no PEM certificate in it"));
}
