use cinema_mesh::identity::Identity;
pub use cinema_testkit::eventually;
use cinema_testkit::{TestDatabase, nats_url};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::TimeZone;
use cinema_mesh::Shutdown;
use cinema_notification::{App, Config};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1::{BookingStatusChanged, Envelope};
use cinema_proto::notification::v1 as pb;
use cinema_proto::notification::v1::notification_service_client::NotificationServiceClient;
use cinema_proto::topics;
use prost::Message;
use tonic::transport::Channel;

pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef";
pub const SENDER_KEY: &str = "sender-key-1";

/// How a test's app is configured.
pub struct Setup<'a> {
    pub channels: &'a [&'a str],
    pub kakao_url: &'a str,
    pub webhook_url: &'a str,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    /// The extra CA that `https://` URLs may chain to.
    pub tls_ca_file: Option<&'a Path>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            channels: &["log"],
            kakao_url: "",
            webhook_url: "",
            max_attempts: 5,
            retry_base_ms: 50,
            tls_ca_file: None,
        }
    }
}

/// The notification service on port 0, over a database of its own, consuming
/// a BOOKING subject of its own (`cinema.booking.test_<id>.status_changed`)
/// through a durable consumer of its own on the shared NATS.
pub struct TestApp {
    pub client: NotificationServiceClient<Channel>,
    pub subject: String,
    pub durable: String,
    pub js: jetstream::Context,
    shutdown: Shutdown,
    database: Arc<TestDatabase>,
    /// Only the first app on a database drops it (and purges the subject).
    owner: bool,
}

impl Drop for TestApp {
    /// Stops the app and drops its consumer; the owner also purges its subject.
    /// The database goes with the last app on it.
    fn drop(&mut self) {
        self.shutdown.cancel();
        let (durable, subject, owner) = (self.durable.clone(), self.subject.clone(), self.owner);
        cinema_testkit::run_detached("clean up the test's consumer", async move {
            let js = jetstream::new(async_nats::connect(&nats_url()).await?);
            let stream = js.get_stream("BOOKING").await?;
            let _ = stream.delete_consumer(&durable).await;
            if owner {
                stream.purge().filter(subject).await?;
            }
            Ok(())
        });
    }
}

pub async fn spawn_app(setup: Setup<'_>) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let subject = format!("cinema.booking.test_{id}.status_changed");
    start(setup, Arc::new(TestDatabase::new("notification")), subject, true).await
}

async fn start(setup: Setup<'_>, database: Arc<TestDatabase>, subject: String, owner: bool) -> TestApp {
    let durable = format!("notification_test_{}", uuid::Uuid::new_v4().simple());
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = nats_url();
    config.channels = setup.channels.iter().map(|c| c.to_string()).collect();
    config.max_attempts = setup.max_attempts;
    config.retry_base_ms = setup.retry_base_ms;
    config.retry_max_ms = 400;
    config.consumer = durable.clone();
    config.events_subject = subject.clone();
    config.tls_ca_file = setup.tls_ca_file.map(|path| path.display().to_string()).unwrap_or_default();
    config.kakao.url = setup.kakao_url.into();
    config.kakao.sender_key = SENDER_KEY.into();
    config.kakao.timeout_ms = 500;
    config.webhook.url = setup.webhook_url.into();
    config.webhook.secret = WEBHOOK_SECRET.into();
    config.webhook.timeout_ms = 500;
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("connect to NATS"));
    cinema_mesh::bus::Bus::connect(&nats_url(), "notification-test")
        .await
        .expect("connect to NATS")
        .ensure_streams()
        .await
        .expect("create the streams");
    TestApp { client: NotificationServiceClient::new(channel), subject, durable, js, shutdown, database, owner }
}

/// A status change of a booking of 어벤져스, 11월 28일 19:00 (KST), 1관, A-1.
pub fn status_changed(booking_number: &str, status: BookingStatus) -> BookingStatusChanged {
    BookingStatusChanged {
        booking_number: booking_number.into(),
        customer_id: "kim".into(),
        screening_id: "screening-1".into(),
        seat_ids: vec!["A-1".into()],
        status: status as i32,
        previous_status: BookingStatus::Unspecified as i32,
        reason: String::new(),
        amount: Some(Money { currency: "KRW".into(), amount: 12_000 }),
        movie_title: "어벤져스".into(),
        screen_name: "1관".into(),
        starts_at: Some(cinema_mesh::time::to_proto(chrono::Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap())),
        version: 1,
        ..Default::default()
    }
}

pub fn envelope(event: &BookingStatusChanged) -> Envelope {
    Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: topics::BOOKING_STATUS_CHANGED.event_type.into(),
        occurred_at: None,
        aggregate_id: event.booking_number.clone(),
        aggregate_version: event.version,
        correlation_id: "test".into(),
        causation_id: String::new(),
        payload: event.encode_to_vec(),
    }
}

pub fn booking_number() -> String {
    format!("BK{}", &uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase())
}

impl TestApp {
    /// Another app on this one's database and subject, with a new durable
    /// consumer: it reads the subject from the start.
    pub async fn replica(&self, setup: Setup<'_>) -> TestApp {
        start(setup, self.database.clone(), self.subject.clone(), false).await
    }

    /// Publishes a status change on the app's subject; returns the envelope.
    pub async fn publish(&self, event: &BookingStatusChanged) -> Envelope {
        let envelope = envelope(event);
        self.publish_envelope(&envelope).await;
        envelope
    }

    /// Publishes bytes as they are, without `Nats-Msg-Id`: JetStream stores
    /// every copy (what a redelivery or a republished event looks like).
    pub async fn publish_raw(&self, payload: Vec<u8>) {
        self.js.publish(self.subject.clone(), payload.into()).await.expect("publish").await.expect("publish ack");
    }

    pub async fn publish_envelope(&self, envelope: &Envelope) {
        self.publish_raw(envelope.encode_to_vec()).await;
    }

    /// The deliveries of a booking of `kim` (the customer of every test event); none
    /// yet is NOT_FOUND, read here as an empty list.
    pub async fn notifications(&self, booking_number: &str) -> Vec<pb::Notification> {
        match self.list_as(&Identity::customer("kim"), booking_number).await {
            Ok(list) => list,
            Err(status) if status.code() == tonic::Code::NotFound => Vec::new(),
            Err(status) => panic!("list notifications: {status:?}"),
        }
    }

    pub async fn list_as(&self, who: &Identity, booking_number: &str) -> Result<Vec<pb::Notification>, tonic::Status> {
        let request = who.request(pb::ListNotificationsRequest { booking_number: booking_number.into() });
        Ok(self.client.clone().list_notifications(request).await?.into_inner().notifications)
    }

    /// Waits until the booking has `n` deliveries that are all settled
    /// (DELIVERED or DEAD_LETTERED).
    pub async fn settled(&self, booking_number: &str, n: usize) -> Vec<pb::Notification> {
        eventually(Duration::from_secs(20), "deliveries settle", || async {
            let all = self.notifications(booking_number).await;
            let pending = pb::DeliveryStatus::Pending as i32;
            (all.len() == n && all.iter().all(|d| d.status != pending)).then_some(all)
        })
        .await
    }

    /// Waits until this app's durable consumer has acked everything on its subject.
    pub async fn drained(&self) {
        eventually(Duration::from_secs(20), "the consumer drains", || async {
            let stream = self.js.get_stream("BOOKING").await.ok()?;
            let info = stream.consumer_info(&self.durable).await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0 && info.delivered.consumer_sequence > 0).then_some(())
        })
        .await
    }

    /// The events set aside as poison: (event id, error).
    pub async fn poison(&self) -> Vec<(String, String)> {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            event_id: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            error: String,
        }
        let mut conn = AsyncPgConnection::establish(&self.database.url()).await.expect("connect");
        let rows: Vec<Row> = diesel::sql_query("SELECT event_id, error FROM poison_events ORDER BY received_at")
            .load(&mut conn)
            .await
            .expect("read poison events");
        rows.into_iter().map(|r| (r.event_id, r.error)).collect()
    }
}

pub fn status_of(d: &pb::Notification) -> pb::DeliveryStatus {
    pb::DeliveryStatus::try_from(d.status).unwrap_or_default()
}

pub fn by_channel<'a>(all: &'a [pb::Notification], channel: &str) -> &'a pb::Notification {
    all.iter().find(|d| d.channel == channel).unwrap_or_else(|| panic!("no {channel} delivery in {all:?}"))
}
