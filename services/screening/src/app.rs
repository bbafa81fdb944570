use cinema_mesh::Shutdown;
use cinema_mesh::process::Process;
use cinema_proto::screening::v1::screening_service_server::ScreeningServiceServer;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::{Config, grpc::Api, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The screening service, bound and connected, ready to run.
pub struct App {
    process: Process,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Ok(Self { process: Process::start(&config.base, "screening", MIGRATIONS).await? })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let relay = process.start_relay(&shutdown);
        let api = Api::new(Service::new(process.pool.clone(), relay));
        process.serve(Routes::new(ScreeningServiceServer::new(api)), shutdown).await
    }
}
