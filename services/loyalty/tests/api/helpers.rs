use cinema_mesh::identity::Identity;
pub use cinema_testkit::eventually;
use cinema_testkit::{TestDatabase, nats_url};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use cinema_loyalty::{App, Config};
use cinema_mesh::Shutdown;
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1::{BookingStatusChanged, Envelope};
use cinema_proto::loyalty::v1 as pb;
use cinema_proto::loyalty::v1::loyalty_service_client::LoyaltyServiceClient;
use cinema_proto::topics;
use prost::Message;
use tonic::transport::Channel;

use cinema_testkit::fake_http::{FakeServer, Recorded, Reply};
use cinema_testkit::tls::TestCa;

pub const PARTNER: &str = "okcashbag";
pub const API_KEY: &str = "partner-api-key";

/// The loyalty service on port 0, over a database of its own, consuming a
/// BOOKING subject of its own (`cinema.booking.test_<id>.status_changed`)
/// through a durable consumer of its own on the shared NATS, relaying to
/// `partner_url`.
pub struct TestApp {
    pub client: LoyaltyServiceClient<Channel>,
    pub subject: String,
    pub durable: String,
    pub js: jetstream::Context,
    shutdown: Shutdown,
    database: Arc<TestDatabase>,
    partner_url: String,
    tls_ca_file: String,
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

pub async fn spawn_app(partner_url: &str) -> TestApp {
    spawn_app_trusting(partner_url, None).await
}

/// The same, with an extra CA that an `https://` partner URL may chain to.
pub async fn spawn_app_trusting(partner_url: &str, tls_ca_file: Option<&Path>) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let subject = format!("cinema.booking.test_{id}.status_changed");
    let tls_ca_file = tls_ca_file.map(|path| path.display().to_string()).unwrap_or_default();
    start(partner_url.into(), tls_ca_file, Arc::new(TestDatabase::new("loyalty")), subject, true).await
}

async fn start(
    partner_url: String,
    tls_ca_file: String,
    database: Arc<TestDatabase>,
    subject: String,
    owner: bool,
) -> TestApp {
    let durable = format!("loyalty_test_{}", uuid::Uuid::new_v4().simple());
    let mut config = Config::default();
    config.base.listen_addr = "127.0.0.1:0".into();
    config.base.database_url = database.url();
    config.base.nats_url = nats_url();
    config.consumer = durable.clone();
    config.events_subject = subject.clone();
    config.tls_ca_file = tls_ca_file.clone();
    config.partner.id = PARTNER.into();
    config.partner.url = partner_url.clone();
    config.partner.api_key = API_KEY.into();
    config.partner.timeout_ms = 500;
    config.partner.retry_base_ms = 50;
    config.partner.retry_max_ms = 400;
    let app = App::build(config).await.expect("build the app");
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let channel = Channel::from_shared(url).expect("a valid url").connect_lazy();
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("connect to NATS"));
    cinema_mesh::bus::Bus::connect(&nats_url(), "loyalty-test")
        .await
        .expect("connect to NATS")
        .ensure_streams()
        .await
        .expect("create the streams");
    let client = LoyaltyServiceClient::new(channel);
    TestApp { client, subject, durable, js, shutdown, database, partner_url, tls_ca_file, owner }
}

/// A status change of a booking paid `amount` KRW.
pub fn status_changed(
    customer_id: &str,
    booking_number: &str,
    status: BookingStatus,
    amount: i64,
) -> BookingStatusChanged {
    BookingStatusChanged {
        booking_number: booking_number.into(),
        customer_id: customer_id.into(),
        screening_id: "screening-1".into(),
        seat_ids: vec!["A-1".into(), "A-2".into()],
        status: status as i32,
        previous_status: BookingStatus::Unspecified as i32,
        reason: String::new(),
        amount: Some(Money { currency: "KRW".into(), amount }),
        movie_title: "어벤져스".into(),
        screen_name: "1관".into(),
        starts_at: None,
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

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase())
}

impl TestApp {
    /// Another app on this one's database and subject, with a new durable
    /// consumer: it reads the subject from the start.
    pub async fn replica(&self) -> TestApp {
        let (partner_url, tls_ca_file) = (self.partner_url.clone(), self.tls_ca_file.clone());
        start(partner_url, tls_ca_file, self.database.clone(), self.subject.clone(), false).await
    }

    pub async fn publish(&self, event: &BookingStatusChanged) -> Envelope {
        let envelope = envelope(event);
        self.publish_envelope(&envelope).await;
        envelope
    }

    /// Publishes without `Nats-Msg-Id`: JetStream stores every copy.
    pub async fn publish_raw(&self, payload: Vec<u8>) {
        self.js.publish(self.subject.clone(), payload.into()).await.expect("publish").await.expect("publish ack");
    }

    pub async fn publish_envelope(&self, envelope: &Envelope) {
        self.publish_raw(envelope.encode_to_vec()).await;
    }

    pub async fn points(&self, customer_id: &str) -> pb::Points {
        let request =
            pb::GetPointsRequest { customer_id: customer_id.into(), page_size: 100, page_token: String::new() };
        self.client
            .clone()
            .get_points(Identity::customer(customer_id).request(request))
            .await
            .expect("get points")
            .into_inner()
    }

    pub async fn link(
        &self,
        customer_id: &str,
        partner_id: &str,
        member: &str,
    ) -> Result<pb::PartnerLink, tonic::Status> {
        let request = pb::LinkPartnerRequest {
            customer_id: customer_id.into(),
            partner_id: partner_id.into(),
            member_number: member.into(),
        };
        self.client.clone().link_partner(Identity::customer(customer_id).request(request)).await.map(|r| r.into_inner())
    }

    pub async fn unlink(&self, customer_id: &str) -> bool {
        let request = pb::UnlinkPartnerRequest { customer_id: customer_id.into() };
        let request = Identity::customer(customer_id).request(request);
        self.client.clone().unlink_partner(request).await.expect("unlink").into_inner().unlinked
    }

    /// Waits until the customer's history has `n` entries, none of them
    /// waiting for the partner; returns their points.
    pub async fn settled(&self, customer_id: &str, n: usize) -> pb::Points {
        eventually(Duration::from_secs(20), "the ledger settles", || async {
            let points = self.points(customer_id).await;
            let pending = pb::PartnerRelayStatus::Pending as i32;
            let waiting = points.history.iter().any(|e| e.partner_relay.as_ref().is_some_and(|r| r.status == pending));
            (points.history.len() == n && !waiting).then_some(points)
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

/// What the fake partner does with the next requests, in order; once the
/// script is empty it applies and answers 200.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Answer this status without applying anything (an outage).
    Fail(u16),
    /// Apply, then answer this status anyway: the answer is "lost".
    ApplyThenFail(u16),
    /// Apply, then answer only after the relay gave up waiting.
    ApplyThenHang,
}

/// A partner that applies each idempotency key once and counts its effects.
pub struct FakePartner {
    pub server: FakeServer,
    state: Arc<Mutex<PartnerState>>,
}

#[derive(Default)]
struct PartnerState {
    script: VecDeque<Step>,
    /// Applied keys and the (member, points) each applied.
    applied: HashMap<String, (String, i64)>,
}

impl FakePartner {
    pub async fn start() -> Self {
        Self::serving(FakeServer::start("/v1/accruals").await)
    }

    /// The same over HTTPS, with a certificate `ca` signed.
    pub async fn start_https(ca: &TestCa) -> Self {
        Self::serving(FakeServer::start_https("/v1/accruals", ca).await)
    }

    fn serving(server: FakeServer) -> Self {
        let state = Arc::new(Mutex::new(PartnerState::default()));
        let shared = state.clone();
        server.respond_with(move |request: &Recorded| {
            let mut state = shared.lock().unwrap();
            let apply = |state: &mut PartnerState| {
                let body = request.json();
                let member = body["member_number"].as_str().unwrap_or_default().to_owned();
                let points = body["points"].as_i64().unwrap_or_default();
                state.applied.entry(request.header("idempotency-key").to_owned()).or_insert((member, points));
            };
            match state.script.pop_front() {
                Some(Step::Fail(status)) => Reply::Status(status),
                Some(Step::ApplyThenFail(status)) => {
                    apply(&mut state);
                    Reply::Status(status)
                }
                Some(Step::ApplyThenHang) => {
                    apply(&mut state);
                    Reply::Hang(Duration::from_secs(3))
                }
                None => {
                    apply(&mut state);
                    Reply::Status(200)
                }
            }
        });
        Self { server, state }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    pub fn script(&self, steps: &[Step]) {
        self.state.lock().unwrap().script.extend(steps);
    }

    /// The effects applied for a member: (key, points), in no order.
    pub fn effects_for(&self, member: &str) -> Vec<(String, i64)> {
        let state = self.state.lock().unwrap();
        state.applied.iter().filter(|(_, (m, _))| m == member).map(|(k, (_, p))| (k.clone(), *p)).collect()
    }

    /// The member's balance at the partner.
    pub fn balance_of(&self, member: &str) -> i64 {
        self.effects_for(member).iter().map(|(_, p)| p).sum()
    }
}

pub fn relay_of(entry: &pb::LedgerEntry) -> (String, pb::PartnerRelayStatus, u32) {
    let relay = entry.partner_relay.as_ref().unwrap_or_else(|| panic!("{entry:?} is not relayed"));
    (relay.partner_id.clone(), pb::PartnerRelayStatus::try_from(relay.status).unwrap_or_default(), relay.attempts)
}
