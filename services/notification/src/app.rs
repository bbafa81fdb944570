use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cinema_mesh::Shutdown;
use cinema_mesh::https::Tls;
use cinema_mesh::process::Process;
use cinema_proto::notification::v1::notification_service_server::NotificationServiceServer;
use cinema_proto::topics::{self, Topic};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use tonic::service::Routes;

use crate::service::{Retry, Service};
use crate::{Config, channel, grpc::Api};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The notification service, bound and connected, ready to run.
pub struct App {
    config: Config,
    process: Process,
    channels: Vec<channel::Channel>,
    topic: Topic,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let ca_file = (!config.tls_ca_file.is_empty()).then(|| Path::new(&config.tls_ca_file));
        let tls = Tls::load(ca_file).context("tls_ca_file (CINEMA_TLS_CA_FILE)")?;
        let channels = channel::parse_all(&config, &tls)?;
        let topic = booking_topic(&config.events_subject)?;
        let process = Process::start(&config.base, "notification", MIGRATIONS).await?;
        Ok(Self { config, process, channels, topic })
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut process = self.process;
        let retry = Retry {
            max_attempts: self.config.max_attempts,
            base: Duration::from_millis(self.config.retry_base_ms),
            max: Duration::from_millis(self.config.retry_max_ms),
        };
        let service = Service::new(process.pool.clone(), self.channels, retry);
        process.spawn(service.clone().dispatch(shutdown.clone()));
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
        process.serve(Routes::new(NotificationServiceServer::new(Api::new(service))), shutdown).await
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
