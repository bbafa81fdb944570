//! NATS JetStream: the streams of design.md §6, publishing envelopes with
//! `Nats-Msg-Id` (JetStream drops a duplicate within the window), and durable
//! pull consumers with explicit ack and bounded, delayed redelivery.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer, message::PublishMessage, stream};
use cinema_proto::events::v1::Envelope;
use cinema_proto::topics::{STREAMS, Topic};
use futures::StreamExt;
use prost::Message;

use crate::Shutdown;

/// How long JetStream remembers a `Nats-Msg-Id` to drop duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
}

impl Bus {
    /// Connects in the background: a broker that is down does not stop the
    /// service from starting; it reconnects by itself.
    pub async fn connect(url: &str, name: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connect(url)
            .await
            .with_context(|| format!("connect to NATS at {url}"))?;
        let js = jetstream::new(client.clone());
        Ok(Self { client, js })
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
                    ..Default::default()
                })
                .await
                .with_context(|| format!("create stream {}", s.name))?;
        }
        Ok(())
    }

    /// Publishes one envelope and waits for JetStream to store it.
    pub async fn publish(
        &self,
        subject: &str,
        envelope: &[u8],
        event_id: &str,
        correlation_id: &str,
    ) -> anyhow::Result<()> {
        // `headers()` replaces the map: set headers first, then the message id.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(crate::correlation::HEADER, correlation_id);
        let message = PublishMessage::build().headers(headers).message_id(event_id).payload(envelope.to_vec().into());
        self.js
            .send_publish(subject.to_owned(), message)
            .await
            .context("publish")?
            .await
            .context("wait for the publish ack")?;
        Ok(())
    }

    /// Runs a durable consumer until `shutdown`: every envelope on `topics` is
    /// handed to `handle`; success acks, failure redelivers after a delay.
    /// Messages that are not envelopes are acked and logged (nothing to retry).
    pub async fn consume<H, F>(&self, durable: &str, topics: &[Topic], handle: H, shutdown: Shutdown)
    where
        H: Fn(Envelope) -> F + Send + Sync,
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
        H: Fn(Envelope) -> F + Send + Sync,
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
                    max_deliver: 20,
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
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                next = messages.next() => match next {
                    Some(message) => message.context("receive")?,
                    None => anyhow::bail!("message stream ended"),
                },
            };
            let envelope = match Envelope::decode(message.payload.clone()) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::error!(message = "Dropping a message that is not an envelope.", durable, %error);
                    message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
                    continue;
                }
            };
            let event_id = envelope.event_id.clone();
            match handle(envelope).await {
                Ok(()) => message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?,
                Err(error) => {
                    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                    let delay = Duration::from_millis(200 * 2u64.pow(delivered.clamp(1, 6) as u32 - 1));
                    tracing::warn!(message = "Event handling failed; will redeliver.", durable, %event_id, delivered, error = format!("{error:#}"));
                    message.ack_with(AckKind::Nak(Some(delay))).await.map_err(|e| anyhow::anyhow!("nak: {e}"))?;
                }
            }
        }
    }
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
