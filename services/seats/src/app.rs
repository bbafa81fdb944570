use std::time::Duration;

use cinema_mesh::Shutdown;
use cinema_mesh::process::Process;
use cinema_proto::seats::v1::seat_inventory_service_server::SeatInventoryServiceServer;
use cinema_proto::seats::v1::seats_service_server::SeatsServiceServer;
use cinema_proto::topics;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::feed::Feed;
use crate::service::{CONSUMER, Service};
use crate::{Config, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The seats service, bound and connected, ready to run.
pub struct App {
    config: Config,
    process: Process,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let process = Process::start(&config.base, "seats", MIGRATIONS).await?;
        Ok(Self { config, process })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let relay = process.start_relay(&shutdown);
        let service = Service::new(process.pool.clone(), relay, Duration::from_secs(self.config.hold_ttl_secs));

        let sweep_interval = Duration::from_millis(self.config.hold_sweep_interval_ms);
        process.spawn(service.clone().run_sweeper(sweep_interval, shutdown.clone()));
        let handler = service.clone();
        process.consume(
            CONSUMER,
            &[topics::SCREENING_SCHEDULED],
            move |envelope| {
                let service = handler.clone();
                async move { service.on_event(envelope).await }
            },
            &shutdown,
        );

        let feed = Feed::default();
        process.spawn(feed.clone().run(process.bus().clone(), shutdown.clone()));
        let api = Api::new(service, feed, shutdown.clone());
        process
            .serve(
                Routes::new(SeatsServiceServer::new(api.clone())).add_service(SeatInventoryServiceServer::new(api)),
                shutdown,
            )
            .await
    }
}
