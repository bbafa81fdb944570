use std::time::Duration;

use cinema_mesh::process::Process;
use cinema_mesh::{Shutdown, bus::Bus};
use cinema_proto::reservation::v1::booking_query_service_server::BookingQueryServiceServer;
use cinema_proto::reservation::v1::booking_view_admin_server::BookingViewAdminServer;
use cinema_proto::reservation::v1::reservation_service_server::ReservationServiceServer;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::grpc::{AdminApi, QueryApi, ReservationApi};
use crate::projector::{self, ViewStore};
use crate::{Config, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The reservation service, bound and connected, ready to run.
pub struct App {
    config: Config,
    process: Process,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let process = Process::start(&config.base, "reservation", MIGRATIONS).await?;
        Ok(Self { config, process })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let relay = process.start_relay(&shutdown);
        let bucket = self.config.view_bucket.clone();
        let (opened, view) = tokio::sync::watch::channel(None);
        process.spawn(project(process.bus().clone(), bucket.clone(), opened, shutdown.clone()));

        let service = Service::new(process.pool.clone(), relay, process.bus().clone(), bucket, view, shutdown.clone());
        let routes = Routes::new(ReservationServiceServer::new(ReservationApi::new(service.clone())))
            .add_service(BookingQueryServiceServer::new(QueryApi::new(service.clone())))
            .add_service(BookingViewAdminServer::new(AdminApi::new(service)));
        process.serve(routes, shutdown).await
    }
}

/// Opens the view's bucket once NATS answers (the service serves from the
/// record until then), then runs the projector until `shutdown`.
async fn project(bus: Bus, bucket: String, opened: tokio::sync::watch::Sender<Option<ViewStore>>, shutdown: Shutdown) {
    let mut backoff = Duration::from_millis(100);
    let store = loop {
        match ViewStore::open(bus.jetstream(), &bucket, bus.stream_replicas()).await {
            Ok(store) => break store,
            Err(error) => {
                tracing::warn!(
                    message = "The booking view is not open yet; retrying.",
                    bucket,
                    error = format!("{error:#}")
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    opened.send_replace(Some(store.clone()));
    projector::run(bus, store, bucket, shutdown).await;
}
