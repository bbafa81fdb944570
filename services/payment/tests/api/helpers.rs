use cinema_mesh::Shutdown;
use cinema_payment::{App, Config};
use cinema_proto::common::v1::Money;
use cinema_proto::payment::v1 as pb;
use cinema_proto::payment::v1::payment_service_client::PaymentServiceClient;
use cinema_testkit::TestDatabase;
use tonic::transport::Channel;

pub struct TestApp {
    pub payments: PaymentServiceClient<Channel>,
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
    let database = TestDatabase::new("payment");
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = cinema_testkit::nats_url();
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    TestApp { payments: PaymentServiceClient::new(channel), shutdown, _database: database }
}

impl TestApp {
    pub async fn charge(&self, key: &str, card_token: &str) -> Result<pb::Payment, tonic::Status> {
        let request = pb::ChargeRequest {
            idempotency_key: key.into(),
            booking_number: key.split('/').next().unwrap_or_default().into(),
            customer_id: "cust-1".into(),
            amount: Some(Money { currency: "KRW".into(), amount: 24000 }),
            card_token: card_token.into(),
        };
        self.payments.clone().charge(request).await.map(|r| r.into_inner())
    }

    pub async fn refund(&self, key: &str, payment_id: &str) -> Result<pb::Payment, tonic::Status> {
        let request = pb::RefundRequest {
            idempotency_key: key.into(),
            payment_id: payment_id.into(),
            reason: "customer cancelled".into(),
        };
        self.payments.clone().refund(request).await.map(|r| r.into_inner())
    }

    pub async fn get(&self, payment_id: &str) -> Result<pb::Payment, tonic::Status> {
        let request = pb::GetPaymentRequest { payment_id: payment_id.into() };
        self.payments.clone().get_payment(request).await.map(|r| r.into_inner())
    }
}

pub fn reason(status: &tonic::Status) -> Option<String> {
    cinema_mesh::status::reason(status)
}
