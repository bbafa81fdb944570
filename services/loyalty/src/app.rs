use std::sync::Arc;
use std::time::Duration;

use cinema_mesh::{Shutdown, bus::Bus, store};
use cinema_proto::loyalty::v1::loyalty_service_server::LoyaltyServiceServer;
use cinema_proto::topics::{self, Topic};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::service::Routes;

use crate::domain::AccrualPercent;
use crate::relay::Relay;
use crate::service::Service;
use crate::{Config, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The loyalty service, bound and connected, ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
    pool: store::Pool,
    bus: Bus,
    percent: AccrualPercent,
    topic: Topic,
    relay: Option<Relay>,
    wake_relay: Arc<Notify>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let percent = AccrualPercent::parse(config.accrual_percent).map_err(anyhow::Error::msg)?;
        let topic = booking_topic(&config.events_subject)?;
        let pool = store::connect(&config.base.database_url, MIGRATIONS).await?;
        let wake_relay = Arc::new(Notify::new());
        let relay = Relay::new(pool.clone(), &config.partner, wake_relay.clone())?;
        let bus = Bus::connect(&config.base.nats_url, "cinema-loyalty").await?;
        let listener = cinema_mesh::server::bind(&config.base.listen_addr).await?;
        Ok(Self { config, listener, pool, bus, percent, topic, relay, wake_relay })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let partner_id = self.relay.is_some().then(|| self.config.partner.id.clone());
        let service = Service::new(self.pool.clone(), self.percent, partner_id, self.wake_relay);
        let relay = self.relay.map(|relay| tokio::spawn(relay.run(shutdown.clone())));

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
        let routes = Routes::new(LoyaltyServiceServer::new(api));
        let (pool, bus) = (self.pool, self.bus);
        let ready = cinema_mesh::server::ready_when_connected(pool, bus);
        let drain = Duration::from_millis(self.config.base.drain_delay_ms);
        cinema_mesh::server::serve(self.listener, routes, ready, drain, shutdown.clone()).await?;
        shutdown.cancel();
        consumer.await?;
        if let Some(relay) = relay {
            relay.await?;
        }
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
