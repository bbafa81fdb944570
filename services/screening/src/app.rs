use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, outbox::Relay, store};
use cinema_proto::screening::v1::screening_service_server::ScreeningServiceServer;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::{Config, grpc::Api, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The screening service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-screening").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let relay = Relay::new(self.pool.clone(), self.bus.clone());
        let relay_task = tokio::spawn(relay.clone().run(shutdown.clone()));

        let api = Api::new(Service::new(self.pool.clone(), relay));
        let routes = Routes::new(ScreeningServiceServer::new(api));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        relay_task.await?;
        Ok(())
    }
}
