use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, store};
use cinema_proto::loyalty::v1::loyalty_service_server::LoyaltyServiceServer;
use cinema_proto::topics;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::domain::AccrualPercent;
use crate::service::{CONSUMER, Service};
use crate::{Config, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The loyalty service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
    percent: AccrualPercent,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let percent = AccrualPercent::parse(config.accrual_percent).map_err(anyhow::Error::msg)?;
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-loyalty").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus, percent })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let service = Service::new(self.pool.clone(), self.percent);

        let consumer = {
            let (bus, service, shutdown) = (self.bus.clone(), service.clone(), shutdown.clone());
            tokio::spawn(async move {
                let handle = |envelope| {
                    let service = service.clone();
                    async move { service.on_event(envelope).await }
                };
                bus.consume(CONSUMER, &[topics::BOOKING_STATUS_CHANGED], handle, shutdown).await;
            })
        };

        let api = Api::new(service);
        let routes = Routes::new(LoyaltyServiceServer::new(api));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        consumer.await?;
        Ok(())
    }
}
