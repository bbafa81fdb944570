use std::time::Duration;

use cinema_mesh::Shutdown;
use cinema_mesh::identity::{Identity, Role};
use cinema_orchestrator::{App, Config};
use cinema_proto::booking::v1 as pb;
use cinema_proto::booking::v1::booking_service_client::BookingServiceClient;
use cinema_proto::booking::v1::saga_operator_service_client::SagaOperatorServiceClient;
use cinema_testkit::TestDatabase;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tonic::transport::Channel;

pub struct TestApp {
    pub bookings: BookingServiceClient<Channel>,
    pub operator: SagaOperatorServiceClient<Channel>,
    database_url: String,
    shutdown: Shutdown,
    _database: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The orchestrator on port 0 over a database of its own; seats, payment and
/// reservation point at a closed port. `configure` adjusts the rest.
pub async fn spawn_app(configure: impl FnOnce(&mut Config)) -> TestApp {
    let database = TestDatabase::new("orchestrator");
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = cinema_testkit::nats_url();
    let nobody = "http://127.0.0.1:9".to_owned();
    config.seats_url = nobody.clone();
    config.payment_url = nobody.clone();
    config.reservation_url = nobody;
    config.inline_deadline_ms = 300;
    config.step_timeout_ms = 500;
    config.backoff_base_ms = 20;
    config.backoff_cap_ms = 200;
    configure(&mut config);
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    TestApp {
        bookings: BookingServiceClient::new(channel.clone()),
        operator: SagaOperatorServiceClient::new(channel),
        database_url: database.url(),
        shutdown,
        _database: database,
    }
}

impl TestApp {
    /// Books A-1 with `x-request-id: correlation_id`; the answer is PENDING
    /// (nobody answers the saga's calls).
    pub async fn book(&self, correlation_id: &str) -> pb::BookingResult {
        let mut request = tonic::Request::new(pb::BookTicketsRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            customer_id: "kim".into(),
            screening_id: uuid::Uuid::new_v4().to_string(),
            seat_ids: vec!["A-1".into()],
            payment: Some(pb::PaymentMethod { card_token: "tok_visa".into() }),
        });
        request.metadata_mut().insert("x-request-id", correlation_id.parse().expect("ascii"));
        Identity::customer("kim").insert_into(request.metadata_mut());
        let answer = self.bookings.clone().book_tickets(request).await.expect("accepted").into_inner();
        assert_eq!(answer.status(), cinema_proto::common::v1::BookingStatus::Pending, "{answer:?}");
        answer
    }

    pub async fn timeline(&self, number: &str) -> Result<pb::SagaTimeline, tonic::Status> {
        let request = pb::GetSagaTimelineRequest { booking_number: number.into() };
        self.operator.clone().get_saga_timeline(ops_lee().request(request)).await.map(tonic::Response::into_inner)
    }

    pub async fn retry_now(&self, number: &str, reason: &str) -> Result<pb::SagaTimeline, tonic::Status> {
        let request = ops_lee().request(operator_request(number, reason));
        self.operator.clone().retry_now(request).await.map(tonic::Response::into_inner)
    }

    pub async fn force_compensate(&self, number: &str, reason: &str) -> Result<pb::SagaTimeline, tonic::Status> {
        let request = ops_lee().request(operator_request(number, reason));
        self.operator.clone().force_compensate(request).await.map(tonic::Response::into_inner)
    }

    /// Polls the timeline until `done` holds (panics after 10 s).
    pub async fn timeline_until(&self, number: &str, done: impl Fn(&pb::SagaTimeline) -> bool) -> pb::SagaTimeline {
        cinema_testkit::eventually(Duration::from_secs(10), "the timeline to show it", || async {
            self.timeline(number).await.ok().filter(|t| done(t))
        })
        .await
    }

    /// Runs a statement on the orchestrator's database.
    pub async fn execute(&self, sql: &str) {
        let mut conn = AsyncPgConnection::establish(&self.database_url).await.expect("connect");
        diesel::sql_query(sql).execute(&mut conn).await.expect(sql);
    }
}

pub fn operator_request(number: &str, reason: &str) -> pb::OperatorRequest {
    pb::OperatorRequest { booking_number: number.into(), reason: reason.into() }
}

/// The operator the tests act as: the audit records this `sub`.
pub fn ops_lee() -> Identity {
    Identity::new("ops-lee", &[Role::Operator])
}

/// The field violations of an INVALID_ARGUMENT, by field.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let bad = status.get_details_bad_request().expect("field violations");
    bad.field_violations.into_iter().map(|v| v.field).collect()
}

pub fn reason(status: &tonic::Status) -> Option<String> {
    cinema_mesh::status::reason(status)
}
