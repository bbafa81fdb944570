use std::time::Duration;

use cinema_mesh::Shutdown;
use cinema_mesh::process::Process;
use cinema_proto::payment::v1::payment_service_server::PaymentServiceServer;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::acquirer::Acquirer;
use crate::{Config, grpc::Api, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The payment service, bound and connected, ready to run.
pub struct App {
    config: Config,
    process: Process,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let process = Process::start(&config.base, "payment", MIGRATIONS).await?;
        Ok(Self { config, process })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let relay = process.start_relay(&shutdown);
        let acquirer = Acquirer::new(Duration::from_millis(self.config.acquirer_latency_ms));
        let api = Api::new(Service::new(process.pool.clone(), relay, acquirer, self.config.merchant_id.clone()));
        process.serve(Routes::new(PaymentServiceServer::new(api)), shutdown).await
    }
}
