//! The booking view's I/O: the KV bucket, the projector that folds the
//! BOOKING, PAYMENT and SEATS streams into it, and the rebuild.
//!
//! Every write is a merge ([`BookingView::join`]) under compare-and-swap: the
//! projector's replicas, a rebuild and a replay can all write at once, and an
//! event that changes nothing writes nothing (a replayed stream leaves every
//! revision as it was).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer, kv};
use cinema_mesh::Shutdown;
use cinema_mesh::bus::{Bus, Delivery, Poison};
use cinema_proto::events::v1::Envelope;
use cinema_proto::topics::{self, Topic};
use futures::StreamExt;
use prost::Message;

use crate::view::{self, BookingView};

/// The streams the view is folded from, with the topics it reads in each.
const SOURCES: [(&str, &str, &[Topic]); 3] = [
    ("BOOKING", "booking", &[topics::BOOKING_STATUS_CHANGED]),
    ("PAYMENT", "payment", &[topics::PAYMENT_CAPTURED, topics::PAYMENT_DECLINED, topics::PAYMENT_REFUNDED]),
    ("SEATS", "seats", &[topics::SEATS_HELD, topics::SEATS_SOLD, topics::SEATS_RELEASED]),
];

/// Compare-and-swap conflicts tolerated before a merge gives up (it is redelivered).
const MAX_CAS_ATTEMPTS: usize = 50;

/// One KV bucket of booking views, keyed by booking number.
#[derive(Clone)]
pub struct ViewStore {
    kv: kv::Store,
}

/// A view as stored: the value and the entry's revision.
pub struct Stored {
    pub view: BookingView,
    pub revision: u64,
}

impl ViewStore {
    /// Opens `bucket`, creating it if needed (idempotent). The bucket's stream
    /// is created by hand with the fields a KV bucket needs: async-nats's
    /// `create_key_value` cannot read the answer of a NATS server before 2.10.
    pub async fn open(js: &jetstream::Context, bucket: &str, replicas: usize) -> anyhow::Result<Self> {
        if let Ok(kv) = js.get_key_value(bucket).await {
            return Ok(Self { kv });
        }
        js.get_or_create_stream(jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            description: Some("cinema booking view (reservation projector)".into()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            discard: jetstream::stream::DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas.max(1),
            ..Default::default()
        })
        .await
        .with_context(|| format!("create KV bucket {bucket}"))?;
        js.get_key_value(bucket).await.with_context(|| format!("open KV bucket {bucket}")).map(|kv| Self { kv })
    }

    pub async fn get(&self, booking_number: &str) -> anyhow::Result<Option<Stored>> {
        let entry = self.kv.entry(booking_number).await.context("read the view")?;
        Ok(entry.and_then(|e| stored(&e)))
    }

    /// Joins `view` into the stored one; `true` when the stored view changed.
    pub async fn merge(&self, booking_number: &str, view: &BookingView) -> anyhow::Result<bool> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let entry = self.kv.entry(booking_number).await.context("read the view")?;
            let (current, revision) = match &entry {
                Some(e) if e.operation == kv::Operation::Put => {
                    (BookingView::from_json(&e.value).unwrap_or_default(), Some(e.revision))
                }
                Some(e) => (BookingView::default(), Some(e.revision)),
                None => (BookingView::default(), None),
            };
            let joined = current.join(view);
            if revision.is_some() && joined == current {
                return Ok(false);
            }
            let written = match revision {
                Some(revision) => self
                    .kv
                    .update(booking_number, joined.to_json().into(), revision)
                    .await
                    .map(drop)
                    .map_err(|e| (e.kind() == kv::UpdateErrorKind::WrongLastRevision, anyhow::Error::new(e))),
                None => self
                    .kv
                    .create(booking_number, joined.to_json().into())
                    .await
                    .map(drop)
                    .map_err(|e| (e.kind() == kv::CreateErrorKind::AlreadyExists, anyhow::Error::new(e))),
            };
            match written {
                Ok(()) => return Ok(true),
                Err((true, _)) => continue, // someone else wrote first: merge again
                Err((false, error)) => return Err(error.context("write the view")),
            }
        }
        anyhow::bail!("view of {booking_number} kept changing under {MAX_CAS_ATTEMPTS} merges")
    }

    /// The booking's entry now (if any), then every change.
    pub async fn watch(&self, booking_number: &str) -> anyhow::Result<impl futures::Stream<Item = Stored> + use<>> {
        let watch = self.kv.watch_with_history(booking_number).await.context("watch the view")?;
        Ok(watch.filter_map(|entry| async move { entry.ok().and_then(|e| stored(&e)) }))
    }
}

fn stored(entry: &kv::Entry) -> Option<Stored> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    match BookingView::from_json(&entry.value) {
        Ok(view) => Some(Stored { view, revision: entry.revision }),
        Err(error) => {
            tracing::error!(message = "A view entry does not parse.", key = %entry.key, %error);
            None
        }
    }
}

/// The durable consumer that feeds the view from `stream`.
fn durable(bucket: &str, source: &str) -> String {
    format!("{bucket}-{source}")
}

/// Runs the projector's three consumers until `shutdown`.
pub async fn run(bus: Bus, store: ViewStore, bucket: String, shutdown: Shutdown) {
    let consumers = SOURCES.map(|(_, source, topics)| {
        let (bus, store, shutdown, durable) = (bus.clone(), store.clone(), shutdown.clone(), durable(&bucket, source));
        async move {
            let project = |d: Delivery| {
                let store = store.clone();
                async move { project(&store, &d.envelope, d.stream_sequence).await }
            };
            bus.consume_deliveries(&durable, topics, project, shutdown).await
        }
    });
    futures::future::join_all(consumers).await;
}

async fn project(store: &ViewStore, envelope: &Envelope, seq: u64) -> anyhow::Result<()> {
    match view::fact(envelope, seq) {
        Ok(None) => Ok(()),
        Ok(Some(fact)) => {
            let changed = store.merge(&fact.booking_number, &fact.view).await?;
            tracing::debug!(message = "Projected.", booking_number = %fact.booking_number, event_type = %envelope.event_type, changed);
            Ok(())
        }
        Err(unreadable) => Err(Poison(unreadable.to_string()).into()),
    }
}

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub events_read: u64,
    pub bookings: u64,
    pub entries_changed: u64,
}

/// Folds the three streams from their start (up to their last message when
/// the rebuild began) and merges the result into `target`.
pub async fn rebuild(js: &jetstream::Context, target: &ViewStore) -> anyhow::Result<Rebuilt> {
    let mut views: HashMap<String, BookingView> = HashMap::new();
    let mut done = Rebuilt::default();
    for (stream_name, _, _) in SOURCES {
        let Ok(mut stream) = js.get_stream(stream_name).await else { continue };
        let last = stream.info().await.context("stream info")?.state.last_sequence;
        if last == 0 {
            continue;
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .context("create a rebuild consumer")?;
        let mut messages = consumer.messages().await.context("read the stream")?;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), messages.next())
                .await
                .with_context(|| format!("{stream_name} stopped delivering during a rebuild"))?;
            let message = next.context("stream ended")?.map_err(|e| anyhow::anyhow!("receive: {e}"))?;
            let seq = message.info().map_err(|e| anyhow::anyhow!("message info: {e}"))?.stream_sequence;
            done.events_read += 1;
            match Envelope::decode(message.payload.clone())
                .map_err(|e| e.to_string())
                .and_then(|e| view::fact(&e, seq).map_err(|e| e.to_string()))
            {
                Ok(Some(fact)) => {
                    let view = views.entry(fact.booking_number).or_default();
                    *view = view.join(&fact.view);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(message = "Rebuild skips an unreadable message.", stream = stream_name, seq, error)
                }
            }
            if seq >= last {
                break;
            }
        }
    }
    done.bookings = views.len() as u64;
    for (number, view) in &views {
        if target.merge(number, view).await? {
            done.entries_changed += 1;
        }
    }
    Ok(done)
}
