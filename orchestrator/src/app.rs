use std::time::Duration;

use cinema_mesh::breaker::{self, Breaker};
use cinema_mesh::process::Process;
use cinema_mesh::{Shutdown, client};
use cinema_proto::booking::v1::booking_service_server::BookingServiceServer;
use cinema_proto::booking::v1::saga_operator_service_server::SagaOperatorServiceServer;
use cinema_proto::payment::v1::payment_service_client::PaymentServiceClient;
use cinema_proto::reservation::v1::reservation_service_client::ReservationServiceClient;
use cinema_proto::seats::v1::seat_inventory_service_client::SeatInventoryServiceClient;
use cinema_proto::seats::v1::seats_service_client::SeatsServiceClient;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::admission::{self, Admission};
use crate::operator::{self, Operator};
use crate::runner::{Failpoint, Options, Participants, Runner};
use crate::{Config, grpc::Api, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The orchestrator, bound and connected, ready to run.
pub struct App {
    config: Config,
    process: Process,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // The orchestrator calls participants over gRPC and publishes nothing.
        let process = Process::start_without_bus(&config.base, MIGRATIONS).await?;
        Ok(Self { config, process })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let c = &self.config;
        let step_timeout = Duration::from_millis(c.step_timeout_ms);
        let seats = client::channel(&c.seats_url, step_timeout)?;
        let participants = Participants {
            seats: SeatInventoryServiceClient::new(seats.clone()),
            payment: PaymentServiceClient::new(client::channel(&c.payment_url, step_timeout)?),
            reservation: ReservationServiceClient::new(client::channel(&c.reservation_url, step_timeout)?),
            payment_breaker: Breaker::new(
                "payment",
                breaker::Settings {
                    failure_threshold: c.payment_breaker_failures.max(1),
                    open_for: Duration::from_millis(c.payment_breaker_open_ms),
                    half_open_probes: c.payment_breaker_probes.max(1),
                },
            ),
        };
        let options = Options {
            lease: Duration::from_secs(c.lease_secs),
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_cap: Duration::from_millis(c.backoff_cap_ms),
            bug_retries: 3,
            saga_timeout: Duration::from_secs(c.saga_timeout_secs),
            runner_id: runner_id(),
            failpoint: match c.failpoint.as_str() {
                "" => None,
                raw => Some(raw.parse::<Failpoint>().map_err(anyhow::Error::msg)?),
            },
        };
        let runner = Runner::new(process.pool.clone(), participants, options);
        process.spawn(runner.clone().run_background(shutdown.clone()));
        let seat_map = SeatsServiceClient::new(client::channel(&c.seats_url, Duration::from_secs(1))?);
        let admission =
            Admission::new(admission::Settings { rate_per_sec: c.admission_rate_per_sec, burst: c.admission_burst });
        if admission.enabled() {
            tracing::info!(
                message = "Admission control on.",
                rate_per_sec = c.admission_rate_per_sec,
                burst = c.admission_burst.max(1)
            );
        }
        let inline_deadline = Duration::from_millis(c.inline_deadline_ms);
        let operator = Operator::new(process.pool.clone(), runner.clone(), inline_deadline);
        let service = Service::new(process.pool.clone(), runner, seat_map, inline_deadline, admission);

        let routes = Routes::new(BookingServiceServer::new(Api::new(service)))
            .add_service(SagaOperatorServiceServer::new(operator::Api::new(operator)));
        process.serve(routes, shutdown).await
    }
}

/// `<host>/<pid>`: which replica ran a step, for the saga history.
fn runner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}/{}", std::process::id())
}
