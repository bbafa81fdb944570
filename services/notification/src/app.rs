use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, store};
use cinema_proto::notification::v1::notification_service_server::NotificationServiceServer;
use cinema_proto::topics::{self, Topic};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::service::{Retry, Service};
use crate::{Config, channel, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The notification service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
    channels: Vec<channel::Channel>,
    topic: Topic,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let channels = channel::parse_all(&config)?;
        let topic = booking_topic(&config.events_subject)?;
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-notification").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus, channels, topic })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let retry = Retry {
            max_attempts: self.config.max_attempts,
            base: Duration::from_millis(self.config.retry_base_ms),
            max: Duration::from_millis(self.config.retry_max_ms),
        };
        let service = Service::new(self.pool.clone(), self.channels, retry);
        let sender = tokio::spawn(service.clone().dispatch(shutdown.clone()));

        let consumer = {
            let (bus, service, shutdown) = (self.bus.clone(), service.clone(), shutdown.clone());
            let (durable, topic) = (self.config.consumer.clone(), self.topic);
            tokio::spawn(async move {
                let handle = |envelope| {
                    let service = service.clone();
                    async move { service.on_event(envelope).await }
                };
                bus.consume(&durable, &[topic], handle, shutdown).await;
            })
        };

        let api = Api::new(service);
        let routes = Routes::new(NotificationServiceServer::new(api));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        sender.await?;
        consumer.await?;
        Ok(())
    }
}

/// `BookingStatusChanged` on `subject`, which must be in the BOOKING stream.
/// (Leaked once per app: a topic names its subject for the process's life.)
fn booking_topic(subject: &str) -> anyhow::Result<Topic> {
    anyhow::ensure!(
        subject.starts_with("cinema.booking.") && !subject.contains(['*', '>', ' ']),
        "events_subject {subject:?} must be a subject under cinema.booking."
    );
    let subject: &'static str = Box::leak(subject.to_owned().into_boxed_str());
    Ok(Topic { subject, ..topics::BOOKING_STATUS_CHANGED })
}
