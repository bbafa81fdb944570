//! NATS JetStream: the streams of design.md §6, publishing envelopes with
//! `Nats-Msg-Id` (JetStream drops a duplicate within the window), and durable
//! pull consumers with explicit ack and bounded, delayed redelivery. A message
//! that can never be handled (not an envelope, a handler error marked
//! [`Poison`], or the last allowed delivery failing) goes to the DEADLETTER
//! stream (`cinema.deadletter.<consumer>`) and is acked, blocking nothing.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer, message::PublishMessage, stream};
use cinema_proto::events::v1::Envelope;
use cinema_proto::topics::{STREAMS, Topic};
use futures::StreamExt;
use prost::Message;
use tracing::Instrument as _;

use crate::Shutdown;

/// How long JetStream remembers a `Nats-Msg-Id` to drop duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Deliveries of one message before it is dead-lettered.
pub const MAX_DELIVER: i64 = 20;

/// Headers of a dead letter: who gave up, why, and where the message was.
pub mod dead_letter {
    pub const CONSUMER: &str = "Cinema-Consumer";
    pub const ERROR: &str = "Cinema-Error";
    pub const SUBJECT: &str = "Cinema-Subject";
    pub const STREAM_SEQUENCE: &str = "Cinema-Stream-Sequence";
}

/// A handler error that no redelivery can fix: the message is dead-lettered at
/// once. Return it as `Err(Poison(..).into())`.
#[derive(Debug, thiserror::Error)]
#[error("poison: {0}")]
pub struct Poison(pub String);

/// One delivered event and its position in its stream.
pub struct Delivery {
    pub envelope: Envelope,
    pub stream_sequence: u64,
}

#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    /// Copies of each stream (and KV bucket) JetStream keeps.
    replicas: usize,
}

impl Bus {
    /// Connects in the background: a broker that is down does not stop the
    /// service from starting; it reconnects by itself. `url` may name several servers,
    /// comma-separated (a cluster's seeds; the servers also tell the client of their peers).
    pub async fn connect(url: &str, name: &str) -> anyhow::Result<Self> {
        let servers = url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("NATS URL {url:?}"))?;
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            // Back online within half a second of the broker (the default waits up to 4 s).
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(2u64.saturating_pow(attempts.min(16) as u32)).min(Duration::from_millis(500))
            })
            .connect(servers)
            .await
            .with_context(|| format!("connect to NATS at {url}"))?;
        let js = jetstream::new(client.clone());
        Ok(Self { client, js, replicas: 1 })
    }

    /// Streams and KV buckets this bus creates keep `replicas` copies (at least 1).
    pub fn with_stream_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    pub fn stream_replicas(&self) -> usize {
        self.replicas
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// A fresh inbox subject (for a push consumer's deliveries).
    pub fn new_inbox(&self) -> String {
        self.client.new_inbox()
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates or updates every cinema stream (idempotent; every service may call it).
    pub async fn ensure_streams(&self) -> anyhow::Result<()> {
        for s in STREAMS {
            self.js
                .create_or_update_stream(stream::Config {
                    name: s.name.into(),
                    subjects: vec![s.subjects.into()],
                    storage: stream::StorageType::File,
                    duplicate_window: DUPLICATE_WINDOW,
                    num_replicas: self.replicas,
                    ..Default::default()
                })
                .await
                .with_context(|| format!("create stream {}", s.name))?;
        }
        Ok(())
    }

    /// Publishes one envelope and waits for JetStream to store it; the
    /// correlation id and the trace context (if any) travel as headers.
    pub async fn publish(
        &self,
        subject: &str,
        envelope: &[u8],
        event_id: &str,
        correlation_id: &str,
        traceparent: Option<&str>,
    ) -> anyhow::Result<()> {
        self.send(subject, envelope, event_id, correlation_id, traceparent)
            .await?
            .await
            .context("wait for the publish ack")?;
        Ok(())
    }

    /// Sends a publish without waiting for its ack: await the returned future for it.
    /// Several sent before their acks are awaited are stored by JetStream in one flush
    /// (one disk sync for all of them with `sync_interval: always`).
    pub async fn send(
        &self,
        subject: &str,
        envelope: &[u8],
        event_id: &str,
        correlation_id: &str,
        traceparent: Option<&str>,
    ) -> anyhow::Result<jetstream::context::PublishAckFuture> {
        // `headers()` replaces the map: set headers first, then the message id.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(crate::correlation::HEADER, correlation_id);
        if let Some(traceparent) = traceparent {
            headers.insert(crate::telemetry::TRACEPARENT, traceparent);
        }
        let message = PublishMessage::build().headers(headers).message_id(event_id).payload(envelope.to_vec().into());
        self.js.send_publish(subject.to_owned(), message).await.context("publish")
    }

    /// Runs a durable consumer until `shutdown`: every envelope on `topics` is
    /// handed to `handle`; success acks, failure redelivers after a delay.
    pub async fn consume<H, F>(&self, durable: &str, topics: &[Topic], handle: H, shutdown: Shutdown)
    where
        H: Fn(Envelope) -> F + Send + Sync,
        F: Future<Output = anyhow::Result<()>> + Send,
    {
        self.consume_deliveries(durable, topics, |d: Delivery| handle(d.envelope), shutdown).await
    }

    /// [`Bus::consume`], for handlers that need the stream sequence.
    pub async fn consume_deliveries<H, F>(&self, durable: &str, topics: &[Topic], handle: H, shutdown: Shutdown)
    where
        H: Fn(Delivery) -> F + Send + Sync,
        F: Future<Output = anyhow::Result<()>> + Send,
    {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let run = self.consume_once(durable, topics, &handle, &shutdown);
            if let Err(error) = run.await {
                tracing::warn!(message = "Consumer stopped; restarting.", durable, error = format!("{error:#}"));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }

    async fn consume_once<H, F>(
        &self,
        durable: &str,
        topics: &[Topic],
        handle: &H,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()>
    where
        H: Fn(Delivery) -> F + Send + Sync,
        F: Future<Output = anyhow::Result<()>> + Send,
    {
        self.ensure_streams().await?;
        let stream_name = stream_of(topics)?;
        let stream = self.js.get_stream(stream_name).await.context("get stream")?;
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                durable,
                consumer::pull::Config {
                    durable_name: Some(durable.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    max_deliver: MAX_DELIVER,
                    // One subject goes in `filter_subject`: servers before 2.10 ignore
                    // `filter_subjects` and would deliver the whole stream.
                    filter_subject: match topics {
                        [one] => one.subject.to_owned(),
                        _ => String::new(),
                    },
                    filter_subjects: match topics {
                        [_] => Vec::new(),
                        many => many.iter().map(|t| t.subject.to_owned()).collect(),
                    },
                    ..Default::default()
                },
            )
            .await
            .context("create consumer")?;
        let mut messages = consumer.messages().await.context("pull messages")?;
        // Idle is not stuck: the loop beats while it waits too; a handler that
        // hangs for two minutes (four ack waits) is.
        let heartbeat = crate::watchdog::heartbeat(format!("consumer {durable}"), Duration::from_secs(120));
        let mut idle = tokio::time::interval(Duration::from_secs(5));
        loop {
            heartbeat.beat();
            let message = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = idle.tick() => continue,
                next = messages.next() => match next {
                    Some(message) => message.context("receive")?,
                    None => anyhow::bail!("message stream ended"),
                },
            };
            let (delivered, stream_sequence) = message
                .info()
                .map(|i| (i.delivered, i.stream_sequence))
                .map_err(|e| anyhow::anyhow!("message info: {e}"))?;
            let envelope = match Envelope::decode(message.payload.clone()) {
                Ok(envelope) => envelope,
                Err(error) => {
                    self.dead_letter(durable, &message, stream_sequence, &format!("not an envelope: {error}")).await?;
                    continue;
                }
            };
            let event_id = envelope.event_id.clone();
            let span = consume_span(durable, &message, &envelope);
            if delivered > 1 {
                metrics::counter!(crate::metrics::EVENTS_REDELIVERED, "consumer" => durable.to_owned()).increment(1);
            }
            let occurred_at = envelope.occurred_at.as_ref().and_then(crate::time::from_proto);
            let outcome = match handle(Delivery { envelope, stream_sequence }).instrument(span.clone()).await {
                Ok(()) => {
                    message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
                    if let Some(at) = occurred_at {
                        let lag = (chrono::Utc::now() - at).to_std().unwrap_or_default();
                        metrics::histogram!(crate::metrics::CONSUMER_LAG, "consumer" => durable.to_owned())
                            .record(lag.as_secs_f64());
                    }
                    "ok"
                }
                Err(error) if error.downcast_ref::<Poison>().is_some() || delivered >= MAX_DELIVER => {
                    self.dead_letter(durable, &message, stream_sequence, &format!("{error:#}"))
                        .instrument(span)
                        .await?;
                    "dead_letter"
                }
                Err(error) => {
                    let delay = Duration::from_millis(200 * 2u64.pow(delivered.clamp(1, 6) as u32 - 1));
                    span.in_scope(|| tracing::warn!(message = "Event handling failed; will redeliver.", durable, %event_id, delivered, error = format!("{error:#}")));
                    message.ack_with(AckKind::Nak(Some(delay))).await.map_err(|e| anyhow::anyhow!("nak: {e}"))?;
                    "retry"
                }
            };
            metrics::counter!(crate::metrics::EVENTS_HANDLED, "consumer" => durable.to_owned(), "outcome" => outcome)
                .increment(1);
        }
    }

    /// Copies `message` to `cinema.deadletter.<durable>` (deduplicated on its
    /// stream position), then terminates it: it is never delivered again.
    async fn dead_letter(
        &self,
        durable: &str,
        message: &jetstream::Message,
        stream_sequence: u64,
        why: &str,
    ) -> anyhow::Result<()> {
        tracing::error!(message = "Dead-lettering a message.", durable, subject = %message.subject, stream_sequence, error = why);
        metrics::counter!(crate::metrics::DEAD_LETTERS, "consumer" => durable.to_owned()).increment(1);
        let mut headers = message.headers.clone().unwrap_or_default();
        headers.insert(dead_letter::CONSUMER, durable);
        headers.insert(dead_letter::ERROR, why.replace(['\r', '\n'], " ").as_str());
        headers.insert(dead_letter::SUBJECT, message.subject.as_str());
        headers.insert(dead_letter::STREAM_SEQUENCE, stream_sequence.to_string().as_str());
        let id = format!("{durable}/{}/{stream_sequence}", message.subject);
        let letter = PublishMessage::build().headers(headers).message_id(id).payload(message.payload.clone());
        self.js
            .send_publish(cinema_proto::topics::dead_letter_subject(durable), letter)
            .await
            .context("publish a dead letter")?
            .await
            .context("wait for the dead letter's ack")?;
        message.ack_with(AckKind::Term).await.map_err(|e| anyhow::anyhow!("term: {e}"))
    }
}

/// The span of handling one message: a child of the span that wrote the event
/// (its `traceparent` header), carrying the correlation id and event id.
fn consume_span(durable: &str, message: &jetstream::Message, envelope: &Envelope) -> tracing::Span {
    let header = |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
    let span = tracing::info_span!(
        "consume",
        otel.name = format!("{} process", message.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.consumer = durable,
        correlation_id = %envelope.correlation_id,
        event_id = %envelope.event_id,
    );
    crate::telemetry::set_parent(&span, header(crate::telemetry::TRACEPARENT).as_deref());
    span
}

fn stream_of(topics: &[Topic]) -> anyhow::Result<&'static str> {
    let domain = |t: &Topic| t.subject.split('.').nth(1).unwrap_or_default().to_owned();
    let first = topics.first().context("a consumer needs at least one topic")?;
    anyhow::ensure!(topics.iter().all(|t| domain(t) == domain(first)), "one consumer reads one stream");
    STREAMS
        .iter()
        .find(|s| s.subjects.split('.').nth(1) == Some(domain(first).as_str()))
        .map(|s| s.name)
        .context("no stream for the topic")
}
