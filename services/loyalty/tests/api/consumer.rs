//! The consumer: out-of-order events, replays and poison.

use cinema_proto::common::v1::BookingStatus::{Cancelled, Confirmed};
use cinema_proto::events::v1::Envelope;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_cancellation_handled_before_its_confirmation_leaves_no_points() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (customer, member) = (unique("jung-"), unique("M-"));
    let (late, sentinel) = (unique("BK"), unique("BK"));
    app.link(&customer, PARTNER, &member).await.expect("link");

    app.publish(&status_changed(&customer, &late, Cancelled, 24_000)).await;
    app.publish(&status_changed(&customer, &late, Confirmed, 24_000)).await;
    // Events are handled in order: once the sentinel has accrued, both were handled.
    app.publish(&status_changed(&customer, &sentinel, Confirmed, 10_000)).await;
    let points = app.settled(&customer, 1).await;

    assert_eq!(points.balance, 500, "only the sentinel's points");
    assert_eq!(points.history[0].booking_number, sentinel);
    assert!(partner.server.requests_about(&late).is_empty());
    assert_eq!(partner.balance_of(&member), 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_whole_stream_changes_nothing() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (customer, member) = (unique("han-"), unique("M-"));
    let (kept, cancelled) = (unique("BK"), unique("BK"));
    app.link(&customer, PARTNER, &member).await.expect("link");
    app.publish(&status_changed(&customer, &kept, Confirmed, 24_000)).await;
    app.publish(&status_changed(&customer, &cancelled, Confirmed, 12_000)).await;
    app.publish(&status_changed(&customer, &cancelled, Cancelled, 12_000)).await;
    let before = app.settled(&customer, 3).await;
    let requests_before = partner.server.requests().len();

    // A new durable consumer on the same database reads the subject from its first message.
    let replay = app.replica().await;
    replay.drained().await;

    let after = app.points(&customer).await;
    assert_eq!(after, before);
    assert_eq!(after.balance, 1_200);
    assert_eq!(partner.server.requests().len(), requests_before, "nothing new for the partner");
    assert_eq!(partner.balance_of(&member), 1_200);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_are_set_aside_without_blocking_the_next_events() {
    let partner = FakePartner::start().await;
    let app = spawn_app(partner.url()).await;
    let (customer, booking) = (unique("yoon-"), unique("BK"));

    app.publish_raw(vec![0xff; 16]).await;
    let mut garbage = envelope(&status_changed(&customer, &booking, Confirmed, 24_000));
    garbage.payload = vec![0xff, 0xff, 0xff, 0xff];
    app.publish_envelope(&garbage).await;
    let unnamed =
        Envelope { event_id: "not-a-uuid".into(), ..envelope(&status_changed(&customer, &booking, Confirmed, 24_000)) };
    app.publish_envelope(&unnamed).await;
    app.publish(&status_changed(&customer, &booking, Confirmed, 24_000)).await;

    let points = app.settled(&customer, 1).await;
    assert_eq!(points.balance, 1_200);
    let poison = app.poison().await;
    assert_eq!(poison.len(), 2, "{poison:?}");
    assert_eq!(poison[0].0, garbage.event_id);
    assert!(poison[0].1.starts_with("decode BookingStatusChanged"), "{poison:?}");
    assert_eq!(poison[1].0, "not-a-uuid");
    app.drained().await;
    let info = app.js.get_stream("BOOKING").await.unwrap().consumer_info(&app.durable).await.unwrap();
    assert_eq!((info.num_redelivered, info.delivered.consumer_sequence), (0, 4));
}
