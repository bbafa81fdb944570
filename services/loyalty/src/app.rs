use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cinema_mesh::Shutdown;
use cinema_mesh::https::Tls;
use cinema_mesh::process::Process;
use cinema_proto::loyalty::v1::loyalty_service_server::LoyaltyServiceServer;
use cinema_proto::topics::{self, Topic};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
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
    process: Process,
    percent: AccrualPercent,
    topic: Topic,
    relay: Option<Relay>,
    wake_relay: Arc<Notify>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let percent = AccrualPercent::parse(config.accrual_percent).map_err(anyhow::Error::msg)?;
        let topic = booking_topic(&config.events_subject)?;
        let ca_file = (!config.tls_ca_file.is_empty()).then(|| Path::new(&config.tls_ca_file));
        let tls = Tls::load(ca_file).context("tls_ca_file (CINEMA_TLS_CA_FILE)")?;
        let process = Process::start(&config.base, "loyalty", MIGRATIONS).await?;
        let wake_relay = Arc::new(Notify::new());
        let relay = Relay::new(process.pool.clone(), &config.partner, &tls, wake_relay.clone())?;
        Ok(Self { config, process, percent, topic, relay, wake_relay })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let partner_id = self.relay.is_some().then(|| self.config.partner.id.clone());
        let service = Service::new(process.pool.clone(), self.percent, partner_id, self.wake_relay);
        if let Some(relay) = self.relay {
            process.spawn(relay.run(shutdown.clone()));
        }
        let handler = service.clone();
        process.consume(
            &self.config.consumer,
            &[self.topic],
            move |envelope| {
                let service = handler.clone();
                async move { service.on_event(envelope).await }
            },
            &shutdown,
        );
        process.serve(Routes::new(LoyaltyServiceServer::new(Api::new(service))), shutdown).await
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
