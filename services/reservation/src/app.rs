use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, outbox::Relay, store};
use cinema_proto::reservation::v1::booking_query_service_server::BookingQueryServiceServer;
use cinema_proto::reservation::v1::booking_view_admin_server::BookingViewAdminServer;
use cinema_proto::reservation::v1::reservation_service_server::ReservationServiceServer;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::grpc::{AdminApi, QueryApi, ReservationApi};
use crate::projector::{self, ViewStore};
use crate::{Config, service::Service};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The reservation service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-reservation").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let relay = Relay::new(self.pool.clone(), self.bus.clone());
        let relay_task = tokio::spawn(relay.clone().run(shutdown.clone()));

        let bucket = self.config.view_bucket.clone();
        let (opened, view) = tokio::sync::watch::channel(None);
        let projector_task = tokio::spawn(project(self.bus.clone(), bucket.clone(), opened, shutdown.clone()));

        let service = Service::new(self.pool.clone(), relay, self.bus.clone(), bucket, view, shutdown.clone());
        let routes = Routes::new(ReservationServiceServer::new(ReservationApi::new(service.clone())))
            .add_service(BookingQueryServiceServer::new(QueryApi::new(service.clone())))
            .add_service(BookingViewAdminServer::new(AdminApi::new(service)));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        relay_task.await?;
        projector_task.await?;
        Ok(())
    }
}

/// Opens the view's bucket once NATS answers (the service serves from the
/// record until then), then runs the projector until `shutdown`.
async fn project(bus: Bus, bucket: String, opened: tokio::sync::watch::Sender<Option<ViewStore>>, shutdown: Shutdown) {
    let mut backoff = Duration::from_millis(100);
    let store = loop {
        match ViewStore::open(bus.jetstream(), &bucket).await {
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
