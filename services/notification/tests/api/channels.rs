//! What each channel sends: the Korean text, the template, the signature.

use std::time::{Duration, Instant};

use cinema_notification::signature::{self, DEFAULT_TOLERANCE, Rejected};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::notification::v1::DeliveryStatus;

use crate::helpers::*;
use cinema_testkit::fake_http::FakeServer;

#[tokio::test(flavor = "multi_thread")]
async fn kakao_and_webhook_get_the_korean_text_signed_and_keyed_by_the_event() {
    let kakao = FakeServer::start("/alimtalk/v2/messages").await;
    let hook = FakeServer::start("/hooks/cinema").await;
    let setup = Setup {
        channels: &["log", "kakao", "webhook"],
        kakao_url: &kakao.url,
        webhook_url: &hook.url,
        ..Setup::default()
    };
    let app = spawn_app(setup).await;
    let number = booking_number();

    let published = Instant::now();
    let envelope = app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;
    let all = app.settled(&number, 3).await;
    eprintln!("published -> 3 channels delivered: {:?}", published.elapsed());
    for d in &all {
        let (created, delivered) = (d.created_at.unwrap(), d.delivered_at.unwrap());
        let ms = (delivered.seconds - created.seconds) * 1_000 + i64::from(delivered.nanos - created.nanos) / 1_000_000;
        eprintln!("  {}: recorded -> delivered {ms} ms", d.channel);
    }

    let text = format!("[cinema] 어벤져스 11월 28일 19:00 1관 A-1 예매가 완료되었습니다. 예매번호 {number}");
    for d in &all {
        assert_eq!((status_of(d), d.attempts, d.last_error.as_str()), (DeliveryStatus::Delivered, 1, ""), "{d:?}");
        assert_eq!((d.text.as_str(), d.event_id.as_str()), (text.as_str(), envelope.event_id.as_str()));
        assert_eq!(d.booking_status, BookingStatus::Confirmed as i32);
        assert!(d.delivered_at.is_some() && d.next_attempt_at.is_none(), "{d:?}");
    }

    let [k] = &kakao.requests_about(&number)[..] else { panic!("one Kakao request: {:?}", kakao.requests()) };
    assert_eq!(k.path, "/alimtalk/v2/messages");
    assert_eq!(k.header("content-type"), "application/json");
    assert_eq!(k.header("idempotency-key"), envelope.event_id);
    let body = k.json();
    assert_eq!(body["senderKey"], SENDER_KEY);
    assert_eq!(body["templateCode"], "CINEMA_BOOKING_CONFIRMED");
    assert_eq!(body["recipientList"][0]["recipientNo"], "kim");
    assert_eq!(body["recipientList"][0]["content"], text);
    assert_eq!(body["recipientList"][0]["clientReference"], by_channel(&all, "kakao").notification_id);

    let [w] = &hook.requests_about(&number)[..] else { panic!("one webhook request: {:?}", hook.requests()) };
    assert_eq!(w.header("content-type"), "application/json");
    assert_eq!(w.header("idempotency-key"), envelope.event_id);
    let body = w.json();
    assert_eq!(body["event_id"], envelope.event_id);
    assert_eq!(body["notification_id"], by_channel(&all, "webhook").notification_id);
    assert_eq!(body["booking_number"], number);
    assert_eq!(body["customer_id"], "kim");
    assert_eq!(body["status"], "CONFIRMED");
    assert_eq!(body["text"], text);
    let (timestamp, signed) = (w.header("x-cinema-timestamp"), w.header("x-cinema-signature"));
    let now = chrono::Utc::now().timestamp();
    let verify = |secret: &str, now: i64| {
        signature::verify(secret.as_bytes(), timestamp, signed, &w.body, now, DEFAULT_TOLERANCE)
    };
    assert_eq!(verify(WEBHOOK_SECRET, now), Ok(()));
    assert_eq!(verify("not the secret at all", now), Err(Rejected::Mismatch));
    // A captured request replayed six minutes later is refused.
    assert!(matches!(verify(WEBHOOK_SECRET, now + 360), Err(Rejected::Stale { .. })));
    let tampered = String::from_utf8_lossy(&w.body).replace("CONFIRMED", "CANCELLED");
    let check =
        signature::verify(WEBHOOK_SECRET.as_bytes(), timestamp, signed, tampered.as_bytes(), now, DEFAULT_TOLERANCE);
    assert_eq!(check, Err(Rejected::Mismatch));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_status_change_is_told_with_its_own_template() {
    use BookingStatus::*;
    let kakao = FakeServer::start("/send").await;
    let app = spawn_app(Setup { channels: &["kakao"], kakao_url: &kakao.url, ..Setup::default() }).await;
    let number = booking_number();
    let statuses = [Pending, AwaitingPayment, Confirmed, Rejected, Expired, Cancelling, Cancelled];
    let published = Instant::now();
    for status in statuses {
        let mut event = status_changed(&number, status);
        if status == Rejected {
            event.reason = "카드 결제가 거절되었습니다".into();
        }
        app.publish(&event).await;
    }
    let all = app.settled(&number, statuses.len()).await;
    eprintln!("7 status changes published -> all delivered: {:?}", published.elapsed());
    assert!(all.iter().all(|d| status_of(d) == DeliveryStatus::Delivered), "{all:?}");

    let about = "[cinema] 어벤져스 11월 28일 19:00 1관 A-1";
    let expected = [
        ("CINEMA_BOOKING_PENDING", "예매를 접수했습니다."),
        ("CINEMA_BOOKING_AWAITING_PAYMENT", "예매의 결제를 처리하고 있습니다. 잠시만 기다려 주세요."),
        ("CINEMA_BOOKING_CONFIRMED", "예매가 완료되었습니다."),
        ("CINEMA_BOOKING_REJECTED", "예매가 실패했습니다 (사유: 카드 결제가 거절되었습니다)."),
        ("CINEMA_BOOKING_EXPIRED", "좌석 선점 시간이 만료되어 예매가 취소되었습니다."),
        ("CINEMA_BOOKING_CANCELLING", "예매 취소를 접수했습니다. 환불을 처리하고 있습니다."),
        ("CINEMA_BOOKING_CANCELLED", "예매가 취소되었습니다. 결제 금액은 환불됩니다."),
    ];
    let mut received: Vec<(String, String)> = kakao
        .requests_about(&number)
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["templateCode"].as_str().unwrap().to_owned(),
                body["recipientList"][0]["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> =
        expected.iter().map(|(code, what)| (code.to_string(), format!("{about} {what} 예매번호 {number}"))).collect();
    received.sort();
    expected.sort();
    assert_eq!(received, expected);
    let mut told: Vec<i32> = all.iter().map(|d| d.booking_status).collect();
    told.sort();
    assert_eq!(told, statuses.map(|s| s as i32).to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_is_signed_afresh_with_the_same_body() {
    let hook = FakeServer::start("/hook").await;
    let first = std::sync::atomic::AtomicBool::new(true);
    hook.respond_with(move |_| {
        cinema_testkit::fake_http::Reply::Status(if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            500
        } else {
            204
        })
    });
    let app = spawn_app(Setup { channels: &["webhook"], webhook_url: &hook.url, ..Setup::default() }).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Pending)).await;
    let [d] = &app.settled(&number, 1).await[..] else { panic!("one delivery") };
    assert_eq!((status_of(d), d.attempts, d.last_error.as_str()), (DeliveryStatus::Delivered, 2, "HTTP 500"));
    let [a, b] = &hook.requests_about(&number)[..] else { panic!("two attempts: {:?}", hook.requests()) };
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("idempotency-key"), b.header("idempotency-key"));
    let now = chrono::Utc::now().timestamp();
    for r in [a, b] {
        let (t, s) = (r.header("x-cinema-timestamp"), r.header("x-cinema-signature"));
        assert_eq!(signature::verify(WEBHOOK_SECRET.as_bytes(), t, s, &r.body, now, Duration::from_secs(60)), Ok(()));
    }
}
