//! What every service process does around its own wiring: connect its
//! database (created and migrated) and the broker, bind its port; then run its
//! background loops (outbox relay, consumers, sweepers) beside the gRPC server
//! until shutdown, and wait for every loop to finish.
//!
//! A service's `App` keeps only what is its own: which routes it serves and
//! which loops it runs.

use std::future::Future;
use std::time::Duration;

use cinema_proto::events::v1::Envelope;
use cinema_proto::topics::Topic;
use diesel_migrations::EmbeddedMigrations;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::service::Routes;

use crate::bus::Bus;
use crate::config::Base;
use crate::outbox::Relay;
use crate::store::{self, Pool};
use crate::{Shutdown, server};

/// A service process, connected and bound, with the loops it has started.
pub struct Process {
    pub pool: Pool,
    bus: Option<Bus>,
    listener: TcpListener,
    drain: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl Process {
    /// Connects the database and NATS (the broker in the background: a broker
    /// that is down does not stop the start), and binds `listen_addr`.
    pub async fn start(base: &Base, service: &str, migrations: EmbeddedMigrations) -> anyhow::Result<Self> {
        let mut process = Self::start_without_bus(base, migrations).await?;
        process.bus = Some(
            Bus::connect(&base.nats_url, &format!("cinema-{service}"))
                .await?
                .with_stream_replicas(base.stream_replicas),
        );
        Ok(process)
    }

    /// A process that publishes and consumes nothing (the orchestrator).
    pub async fn start_without_bus(base: &Base, migrations: EmbeddedMigrations) -> anyhow::Result<Self> {
        let pool = store::connect(&base.database_url, migrations).await?;
        let listener = server::bind(&base.listen_addr).await?;
        Ok(Self { pool, bus: None, listener, drain: Duration::from_millis(base.drain_delay_ms), tasks: Vec::new() })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The broker; only for processes made with [`Process::start`].
    pub fn bus(&self) -> &Bus {
        self.bus.as_ref().expect("a process started with Process::start has a bus")
    }

    /// Starts the outbox relay, until `shutdown`, and returns it (wake it after a commit).
    pub fn start_relay(&mut self, shutdown: &Shutdown) -> Relay {
        let relay = Relay::new(self.pool.clone(), self.bus().clone());
        self.spawn(relay.clone().run(shutdown.clone()));
        relay
    }

    /// Runs `task` beside the server; it is awaited after the server stops.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Runs the durable consumer `durable` of `topics` until `shutdown`, handing
    /// every envelope to `handle`.
    pub fn consume<H, F>(&mut self, durable: &str, topics: &[Topic], handle: H, shutdown: &Shutdown)
    where
        H: Fn(Envelope) -> F + Send + Sync + 'static,
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (bus, shutdown, durable, topics) =
            (self.bus().clone(), shutdown.clone(), durable.to_owned(), topics.to_vec());
        self.spawn(async move { bus.consume(&durable, &topics, handle, shutdown).await });
    }

    /// Serves `routes` (plus health and reflection; ready while the database and
    /// the broker answer) until `shutdown`, then stops every loop and waits for it.
    pub async fn serve(self, routes: Routes, shutdown: Shutdown) -> anyhow::Result<()> {
        let Self { pool, bus, listener, drain, tasks } = self;
        let ready = move || {
            let (pool, bus) = (pool.clone(), bus.clone());
            async move { bus.as_ref().is_none_or(Bus::is_connected) && store::ping(&pool).await }
        };
        let served = server::serve(listener, routes, ready, drain, shutdown.clone()).await;
        shutdown.cancel();
        for task in tasks {
            task.await?;
        }
        served
    }
}
