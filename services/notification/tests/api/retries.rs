//! Failures: outages end in delivery, timeouts are retried, and a delivery
//! that keeps failing (or is refused for good) is dead-lettered and visible.

use std::time::{Duration, Instant};

use cinema_proto::common::v1::BookingStatus;
use cinema_proto::notification::v1::DeliveryStatus;

use crate::helpers::*;
use cinema_testkit::fake_http::{FakeServer, Reply};

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_outage_ends_in_delivery_once_it_returns() {
    let kakao = FakeServer::start("/send").await;
    kakao.answer(503);
    let setup = Setup { channels: &["log", "kakao"], kakao_url: &kakao.url, max_attempts: 20, ..Setup::default() };
    let app = spawn_app(setup).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;

    // The outage: attempts keep failing, backing off, and ListNotifications says why.
    eventually(Duration::from_secs(20), "three failed attempts", || async {
        (kakao.requests_about(&number).len() >= 3).then_some(())
    })
    .await;
    let during = app.notifications(&number).await;
    let k = by_channel(&during, "kakao");
    assert_eq!(status_of(k), DeliveryStatus::Pending, "{k:?}");
    assert!(k.attempts >= 2 && k.last_error == "HTTP 503" && k.next_attempt_at.is_some(), "{k:?}");
    assert_eq!(status_of(by_channel(&during, "log")), DeliveryStatus::Delivered, "other channels are not held up");

    // The provider returns.
    kakao.answer(200);
    let recovered = Instant::now();
    let all = app.settled(&number, 2).await;
    let k = by_channel(&all, "kakao");
    let requests = kakao.requests_about(&number);
    let delivered_at = requests.last().unwrap().at;
    eprintln!(
        "outage: {} failed attempts; recovery -> delivered in {:?}",
        requests.len() - 1,
        delivered_at.saturating_duration_since(recovered)
    );
    assert_eq!(status_of(k), DeliveryStatus::Delivered, "{k:?}");
    assert_eq!(k.attempts as usize, requests.len(), "one attempt per request");
    assert_eq!(k.last_error, "HTTP 503", "the outage stays visible");
    // Backoff, not a hot loop: the gaps grow (base 50 ms, doubling, at most 400 ms).
    let gaps: Vec<Duration> = requests.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(40), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(80), "{gaps:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_does_not_answer_in_time_is_tried_again() {
    let hook = FakeServer::start("/hook").await;
    // Longer than the 500 ms timeout the test app sends with.
    hook.respond_with(|_| Reply::Hang(Duration::from_secs(3)));
    let app = spawn_app(Setup { channels: &["webhook"], webhook_url: &hook.url, ..Setup::default() }).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Pending)).await;
    eventually(Duration::from_secs(10), "a timed-out attempt", || async {
        let all = app.notifications(&number).await;
        all.first().filter(|d| d.attempts >= 1).map(|d| assert_eq!(d.last_error, "timed out", "{d:?}"))
    })
    .await;
    hook.answer(200);
    let [d] = &app.settled(&number, 1).await[..] else { panic!("one delivery") };
    assert_eq!(status_of(d), DeliveryStatus::Delivered, "{d:?}");
    assert!(d.attempts >= 2, "{d:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_that_keeps_failing_is_dead_lettered_after_max_attempts() {
    let hook = FakeServer::start("/hook").await;
    hook.answer(503);
    let setup = Setup { channels: &["log", "webhook"], webhook_url: &hook.url, max_attempts: 3, ..Setup::default() };
    let app = spawn_app(setup).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Expired)).await;
    let all = app.settled(&number, 2).await;
    let w = by_channel(&all, "webhook");
    assert_eq!((status_of(w), w.attempts, w.last_error.as_str()), (DeliveryStatus::DeadLettered, 3, "HTTP 503"));
    assert!(w.delivered_at.is_none() && w.next_attempt_at.is_none(), "{w:?}");
    assert_eq!(status_of(by_channel(&all, "log")), DeliveryStatus::Delivered);
    assert_eq!(hook.requests_about(&number).len(), 3, "exactly max_attempts sends");

    // Dead means dead: the receiver comes back and still hears nothing more.
    hook.answer(200);
    let later = Setup { channels: &["log", "webhook"], webhook_url: &hook.url, ..Setup::default() };
    let replica = app.replica(later).await;
    replica.drained().await;
    let sentinel = booking_number();
    replica.publish(&status_changed(&sentinel, BookingStatus::Pending)).await;
    replica.settled(&sentinel, 2).await;
    assert_eq!(hook.requests_about(&number).len(), 3);
    assert_eq!(status_of(by_channel(&app.notifications(&number).await, "webhook")), DeliveryStatus::DeadLettered);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_provider_refuses_for_good_is_dead_lettered_at_once() {
    let kakao = FakeServer::start("/send").await;
    kakao.answer(400);
    let app =
        spawn_app(Setup { channels: &["kakao"], kakao_url: &kakao.url, max_attempts: 5, ..Setup::default() }).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;
    let [k] = &app.settled(&number, 1).await[..] else { panic!("one delivery") };
    assert_eq!((status_of(k), k.attempts, k.last_error.as_str()), (DeliveryStatus::DeadLettered, 1, "HTTP 400"));
    assert_eq!(kakao.requests_about(&number).len(), 1);
}
