use cinema_mesh::Shutdown;
use cinema_mesh::identity::Identity;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::reservation::v1::booking_view_admin_client::BookingViewAdminClient;
use cinema_proto::reservation::v1::reservation_service_client::ReservationServiceClient;
use cinema_reservation::{App, Config};
use cinema_testkit::TestDatabase;
use tonic::transport::Channel;

pub const SCREENING: &str = "0195f3a0-0000-7000-8000-000000000001";

pub struct TestApp {
    pub commands: ReservationServiceClient<Channel>,
    pub queries: BookingQueryServiceClient<Channel>,
    pub admin: BookingViewAdminClient<Channel>,
    /// This app's view bucket on the shared NATS.
    pub bucket: String,
    /// Makes this app's booking numbers its own: the shared NATS keeps the
    /// events of every earlier run, and the projector reads them all.
    suffix: String,
    shutdown: Shutdown,
    _database: TestDatabase,
}

impl Drop for TestApp {
    /// Stops the app and deletes its view bucket and the projector's consumers
    /// (its database goes with `_database`).
    fn drop(&mut self) {
        self.shutdown.cancel();
        let bucket = self.bucket.clone();
        cinema_testkit::run_detached("delete the view bucket", async move {
            let js = async_nats::jetstream::new(async_nats::connect(cinema_testkit::nats_url()).await?);
            for (stream, source) in [("BOOKING", "booking"), ("PAYMENT", "payment"), ("SEATS", "seats")] {
                if let Ok(stream) = js.get_stream(stream).await {
                    let _ = stream.delete_consumer(&format!("{bucket}-{source}")).await;
                }
            }
            let _ = js.delete_key_value(&bucket).await;
            Ok(())
        });
    }
}

/// The service on port 0 over a database of its own.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::new("reservation");
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = cinema_testkit::nats_url();
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    config.view_bucket = format!("booking-view-test-{suffix}");
    let bucket = config.view_bucket.clone();
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    TestApp {
        commands: ReservationServiceClient::new(channel.clone()),
        queries: BookingQueryServiceClient::new(channel.clone()),
        admin: BookingViewAdminClient::new(channel),
        bucket,
        suffix,
        shutdown,
        _database: database,
    }
}

impl TestApp {
    /// `name` made unique to this app (`BK-LIFE-1` -> `BK-LIFE-1-3F2A09BC`).
    pub fn n(&self, name: &str) -> String {
        format!("{name}-{}", self.suffix)
    }

    pub async fn create(&self, number: &str, customer_id: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::CreateReservationRequest {
            booking_number: self.n(number),
            customer_id: customer_id.into(),
            screening_id: SCREENING.into(),
            seat_ids: vec!["A-1".into(), "A-2".into()],
        };
        self.commands.clone().create_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn confirm(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::ConfirmReservationRequest {
            booking_number: self.n(number),
            payment_id: "pay-1".into(),
            amount: Some(cinema_proto::common::v1::Money { currency: "KRW".into(), amount: 24000 }),
            movie_title: "Dune".into(),
            screen_name: "1관".into(),
            starts_at: Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 0 }),
        };
        self.commands.clone().confirm_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn reject(&self, number: &str, status: i32) -> Result<pb::Booking, tonic::Status> {
        let request = pb::RejectReservationRequest {
            booking_number: self.n(number),
            status,
            reason: "seat A-1 is already taken".into(),
        };
        self.commands.clone().reject_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn cancel(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::CancelReservationRequest { booking_number: self.n(number), reason: "customer asked".into() };
        self.commands.clone().cancel_reservation(request).await.map(|r| r.into_inner())
    }

    /// GetBooking as `cust-1`, the customer the tests book for.
    pub async fn get(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        self.get_as(&Identity::customer("cust-1"), number).await
    }

    pub async fn get_as(&self, who: &Identity, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::GetBookingRequest { booking_number: self.n(number), min_version: 0 };
        self.queries.clone().get_booking(who.request(request)).await.map(|r| r.into_inner())
    }

    pub async fn list(
        &self,
        customer_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<pb::ListBookingsResponse, tonic::Status> {
        let request =
            pb::ListBookingsRequest { customer_id: customer_id.into(), page_size, page_token: page_token.into() };
        let who = Identity::customer(customer_id);
        self.queries.clone().list_bookings(who.request(request)).await.map(|r| r.into_inner())
    }
}

pub fn reason(status: &tonic::Status) -> Option<String> {
    cinema_mesh::status::reason(status)
}

/// Publishes `payload` as another service would (an envelope with its
/// `Nats-Msg-Id`), and waits for JetStream to store it.
pub async fn publish<M: prost::Message>(
    topic: cinema_proto::topics::Topic,
    aggregate_id: &str,
    version: u64,
    payload: &M,
) {
    let bus = cinema_mesh::bus::Bus::connect(&cinema_testkit::nats_url(), "reservation-test").await.expect("connect");
    bus.ensure_streams().await.expect("streams");
    let envelope = cinema_proto::events::v1::Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: topic.event_type.into(),
        occurred_at: Some(std::time::SystemTime::now().into()),
        aggregate_id: aggregate_id.into(),
        aggregate_version: version,
        correlation_id: "test".into(),
        causation_id: "test".into(),
        payload: payload.encode_to_vec(),
    };
    bus.publish(topic.subject, &prost::Message::encode_to_vec(&envelope), &envelope.event_id, "test", None)
        .await
        .expect("publish");
}

/// The stored view of `key` in `bucket`, as JSON, with its revision.
pub async fn view_entry(bucket: &str, key: &str) -> Option<(serde_json::Value, u64)> {
    let js = async_nats::jetstream::new(async_nats::connect(cinema_testkit::nats_url()).await.expect("connect"));
    let kv = js.get_key_value(bucket).await.ok()?;
    let entry = kv.entry(key).await.expect("read an entry")?;
    Some((serde_json::from_slice(&entry.value).expect("a JSON view"), entry.revision))
}
