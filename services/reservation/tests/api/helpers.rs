use cinema_mesh::Shutdown;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::reservation::v1::reservation_service_client::ReservationServiceClient;
use cinema_reservation::{App, Config};
use cinema_testkit::TestDatabase;
use tonic::transport::Channel;

pub const SCREENING: &str = "0195f3a0-0000-7000-8000-000000000001";

pub struct TestApp {
    pub commands: ReservationServiceClient<Channel>,
    pub queries: BookingQueryServiceClient<Channel>,
    shutdown: Shutdown,
    _database: TestDatabase,
}

impl Drop for TestApp {
    /// Stops the app (its database goes with `_database`).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The service on port 0 over a database of its own.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::new("reservation");
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = cinema_testkit::nats_url();
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    TestApp {
        commands: ReservationServiceClient::new(channel.clone()),
        queries: BookingQueryServiceClient::new(channel),
        shutdown,
        _database: database,
    }
}

impl TestApp {
    pub async fn create(&self, number: &str, customer_id: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::CreateReservationRequest {
            booking_number: number.into(),
            customer_id: customer_id.into(),
            screening_id: SCREENING.into(),
            seat_ids: vec!["A-1".into(), "A-2".into()],
        };
        self.commands.clone().create_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn confirm(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::ConfirmReservationRequest {
            booking_number: number.into(),
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
            booking_number: number.into(),
            status,
            reason: "seat A-1 is already taken".into(),
        };
        self.commands.clone().reject_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn cancel(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::CancelReservationRequest { booking_number: number.into(), reason: "customer asked".into() };
        self.commands.clone().cancel_reservation(request).await.map(|r| r.into_inner())
    }

    pub async fn get(&self, number: &str) -> Result<pb::Booking, tonic::Status> {
        let request = pb::GetBookingRequest { booking_number: number.into() };
        self.queries.clone().get_booking(request).await.map(|r| r.into_inner())
    }

    pub async fn list(
        &self,
        customer_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<pb::ListBookingsResponse, tonic::Status> {
        let request =
            pb::ListBookingsRequest { customer_id: customer_id.into(), page_size, page_token: page_token.into() };
        self.queries.clone().list_bookings(request).await.map(|r| r.into_inner())
    }
}

pub fn reason(status: &tonic::Status) -> Option<String> {
    cinema_mesh::status::reason(status)
}
