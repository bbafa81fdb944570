use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, outbox::Relay, store};
use cinema_proto::seats::v1::seat_inventory_service_server::SeatInventoryServiceServer;
use cinema_proto::seats::v1::seats_service_server::SeatsServiceServer;
use cinema_proto::topics;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::service::{CONSUMER, Service};
use crate::{Config, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The seats service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-seats").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let relay = Relay::new(self.pool.clone(), self.bus.clone());
        let relay_task = tokio::spawn(relay.clone().run(shutdown.clone()));
        let service = Service::new(self.pool.clone(), relay, Duration::from_secs(self.config.hold_ttl_secs));

        let sweep_interval = Duration::from_millis(self.config.hold_sweep_interval_ms);
        let sweeper = tokio::spawn(service.clone().run_sweeper(sweep_interval, shutdown.clone()));
        let consumer = {
            let (bus, service, shutdown) = (self.bus.clone(), service.clone(), shutdown.clone());
            tokio::spawn(async move {
                let handle = |envelope| {
                    let service = service.clone();
                    async move { service.on_event(envelope).await }
                };
                bus.consume(CONSUMER, &[topics::SCREENING_SCHEDULED], handle, shutdown).await;
            })
        };

        let api = Api::new(service);
        let routes =
            Routes::new(SeatsServiceServer::new(api.clone())).add_service(SeatInventoryServiceServer::new(api));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        relay_task.await?;
        consumer.await?;
        sweeper.await?;
        Ok(())
    }
}
