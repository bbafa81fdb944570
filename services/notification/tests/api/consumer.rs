//! The consumer: duplicates and replays change nothing, poison blocks nothing.

use cinema_proto::common::v1::BookingStatus;
use cinema_proto::events::v1::Envelope;
use cinema_proto::notification::v1::DeliveryStatus;

use crate::helpers::*;
use cinema_testkit::fake_http::FakeServer;

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_is_delivered_once_per_channel() {
    let (kakao, hook) = (FakeServer::start("/send").await, FakeServer::start("/hook").await);
    let setup =
        Setup { channels: &["kakao", "webhook"], kakao_url: &kakao.url, webhook_url: &hook.url, ..Setup::default() };
    let app = spawn_app(setup).await;
    let number = booking_number();
    let envelope = envelope(&status_changed(&number, BookingStatus::Confirmed));
    for _ in 0..3 {
        app.publish_envelope(&envelope).await;
    }
    // The consumer takes events in order: once the sentinel is delivered, the copies were handled.
    let sentinel = booking_number();
    app.publish(&status_changed(&sentinel, BookingStatus::Pending)).await;
    app.settled(&sentinel, 2).await;

    let all = app.settled(&number, 2).await;
    assert!(all.iter().all(|d| d.event_id == envelope.event_id && d.attempts == 1), "{all:?}");
    assert_eq!(kakao.requests_about(&number).len(), 1);
    assert_eq!(hook.requests_about(&number).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_customer_lists_their_notifications() {
    let app = spawn_app(Setup::default()).await;
    let number = booking_number();
    app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;
    assert_eq!(app.settled(&number, 1).await[0].customer_id, "kim");

    // Someone else's booking answers like an unknown one: NOT_FOUND.
    let lee = cinema_mesh::identity::Identity::customer("lee");
    for unknown in [number.clone(), booking_number()] {
        let status = app.list_as(&lee, &unknown).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    }
    // Without the gateway's identity: refused.
    let request = cinema_proto::notification::v1::ListNotificationsRequest { booking_number: number };
    let status = app.client.clone().list_notifications(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_whole_stream_changes_nothing() {
    let (kakao, hook) = (FakeServer::start("/send").await, FakeServer::start("/hook").await);
    let setup = || Setup {
        channels: &["log", "kakao", "webhook"],
        kakao_url: &kakao.url,
        webhook_url: &hook.url,
        ..Setup::default()
    };
    let app = spawn_app(setup()).await;
    let number = booking_number();
    for status in
        [BookingStatus::Pending, BookingStatus::Confirmed, BookingStatus::Cancelling, BookingStatus::Cancelled]
    {
        app.publish(&status_changed(&number, status)).await;
    }
    let before = app.settled(&number, 12).await;
    let (kakao_before, hook_before) = (kakao.requests().len(), hook.requests().len());

    // A new durable consumer on the same database reads the subject from its first message.
    let replay = app.replica(setup()).await;
    replay.drained().await;
    let sentinel = booking_number();
    replay.publish(&status_changed(&sentinel, BookingStatus::Pending)).await;
    replay.settled(&sentinel, 3).await;

    assert_eq!(app.notifications(&number).await, before);
    assert_eq!(kakao.requests().len(), kakao_before + 1, "only the sentinel");
    assert_eq!(hook.requests().len(), hook_before + 1, "only the sentinel");
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_are_set_aside_without_blocking_the_next_events() {
    let kakao = FakeServer::start("/send").await;
    let app = spawn_app(Setup { channels: &["kakao"], kakao_url: &kakao.url, ..Setup::default() }).await;
    let number = booking_number();

    // Not an envelope at all (the bus acks and logs it).
    app.publish_raw(vec![0xff; 16]).await;
    // An envelope whose payload does not decode.
    let mut garbage = envelope(&status_changed(&number, BookingStatus::Confirmed));
    garbage.payload = vec![0xff, 0xff, 0xff, 0xff];
    app.publish_envelope(&garbage).await;
    // A valid payload under an event id that is not a UUID.
    let unnamed =
        Envelope { event_id: "not-a-uuid".into(), ..envelope(&status_changed(&number, BookingStatus::Confirmed)) };
    app.publish_envelope(&unnamed).await;
    // And the event after them.
    let good = app.publish(&status_changed(&number, BookingStatus::Confirmed)).await;

    let [d] = &app.settled(&number, 1).await[..] else { panic!("only the good event is delivered") };
    assert_eq!((status_of(d), d.event_id.as_str()), (DeliveryStatus::Delivered, good.event_id.as_str()));
    let poison = app.poison().await;
    assert_eq!(poison.len(), 2, "{poison:?}");
    assert_eq!(poison[0].0, garbage.event_id);
    assert!(poison[0].1.starts_with("decode BookingStatusChanged"), "{poison:?}");
    assert_eq!(poison[1].0, "not-a-uuid");
    assert!(poison[1].1.starts_with("event id"), "{poison:?}");

    // Acked, not waiting for redelivery.
    app.drained().await;
    let info = app.js.get_stream("BOOKING").await.unwrap().consumer_info(&app.durable).await.unwrap();
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(info.delivered.consumer_sequence, 4);
}
