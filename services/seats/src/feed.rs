//! The live seat map (`WatchSeatMap`): one ordered consumer on the SEATS stream per
//! process, fanned out to every open watch by screening.
//!
//! A watch subscribes to the fan-out *before* it reads the map, so a change committed
//! between the read and the subscription is never missed: at worst the map is read once
//! more. When the fan-out cannot vouch for what it delivered (the consumer was recreated
//! after a gap, or a slow watch lagged behind), every watch re-reads its map.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, push};
use cinema_mesh::Shutdown;
use cinema_mesh::bus::Bus;
use cinema_proto::events::v1::{Envelope, SeatsHeld, SeatsReleased, SeatsSold};
use cinema_proto::topics;
use futures::StreamExt as _;
use prost::Message as _;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::service::{Error, SeatMap, Service};

/// How long one watch may last; the client watches again if it still cares.
pub const WATCH_LIMIT: Duration = Duration::from_secs(3600);
/// Changes that arrive within this window are shown as one new map.
const COALESCE: Duration = Duration::from_millis(50);
/// Room for changes a watch has not looked at yet; beyond it the watch re-reads.
const FAN_OUT_CAPACITY: usize = 1024;

/// What the fan-out says changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Changed {
    Screening(Uuid),
    /// Anything may have changed (the consumer started over).
    Everything,
}

/// The fan-out of seat changes to the watches of this process.
#[derive(Clone)]
pub struct Feed {
    changes: broadcast::Sender<Changed>,
}

impl Default for Feed {
    fn default() -> Self {
        Self { changes: broadcast::channel(FAN_OUT_CAPACITY).0 }
    }
}

impl Feed {
    /// Follows the SEATS stream until `shutdown`, starting over after any error.
    pub async fn run(self, bus: Bus, shutdown: Shutdown) {
        loop {
            if let Err(error) = self.follow(&bus, &shutdown).await {
                tracing::warn!(message = "Seat feed interrupted; starting over.", error = format!("{error:#}"));
            }
            if shutdown.is_cancelled() {
                return;
            }
            // Whatever happened while the consumer was away is unknown.
            let _ = self.changes.send(Changed::Everything);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    async fn follow(&self, bus: &Bus, shutdown: &Shutdown) -> anyhow::Result<()> {
        let js = bus.jetstream();
        let stream = js.get_stream("SEATS").await?;
        let consumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: bus.new_inbox(),
                filter_subject: "cinema.seats.>".into(),
                deliver_policy: DeliverPolicy::New,
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        // Anything committed before the consumer existed was missed.
        let _ = self.changes.send(Changed::Everything);
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                next = messages.next() => match next {
                    Some(message) => message?,
                    None => anyhow::bail!("the ordered consumer ended"),
                },
            };
            if let Some(screening) = screening_of(&message.payload) {
                // No receiver is not an error: nobody is watching.
                let _ = self.changes.send(Changed::Screening(screening));
            }
        }
    }

    /// The screening's map now, then each time it changes, until the screening starts,
    /// [`WATCH_LIMIT`] passes, the receiver is dropped or the server drains.
    pub async fn watch(
        &self,
        service: Service,
        screening_id: Uuid,
        shutdown: Shutdown,
    ) -> Result<mpsc::Receiver<SeatMap>, Error> {
        let changes = self.changes.subscribe();
        let first = service.seat_map(screening_id).await?;
        let starts_at = first.screening.starts_at;
        let until = (starts_at - chrono::Utc::now()).to_std().unwrap_or_default().min(WATCH_LIMIT);
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(follow_screening(service, screening_id, first, changes, tx, until, shutdown));
        Ok(rx)
    }
}

async fn follow_screening(
    service: Service,
    screening_id: Uuid,
    first: SeatMap,
    mut changes: broadcast::Receiver<Changed>,
    tx: mpsc::Sender<SeatMap>,
    until: Duration,
    shutdown: Shutdown,
) {
    let deadline = tokio::time::Instant::now() + until;
    let mut shown = statuses(&first);
    if tx.send(first).await.is_err() {
        return;
    }
    loop {
        let ours = |changed: Result<Changed, broadcast::error::RecvError>| match changed {
            Ok(Changed::Screening(id)) => Some(id == screening_id),
            Ok(Changed::Everything) | Err(broadcast::error::RecvError::Lagged(_)) => Some(true),
            Err(broadcast::error::RecvError::Closed) => None,
        };
        let changed = tokio::select! {
            _ = tx.closed() => return,
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(deadline) => return,
            changed = changes.recv() => ours(changed),
        };
        match changed {
            None => return,
            Some(false) => continue,
            Some(true) => {}
        }
        // A booking holds or sells several seats in one event, and a rush brings many
        // events: show what they add up to.
        tokio::time::sleep(COALESCE).await;
        while changes.try_recv().is_ok() {}
        let map = match service.seat_map(screening_id).await {
            Ok(map) => map,
            Err(error) => {
                tracing::warn!(message = "Seat map read failed; the watch ends.", %screening_id, %error);
                return;
            }
        };
        let now = statuses(&map);
        if now == shown {
            continue;
        }
        shown = now;
        if tx.send(map).await.is_err() {
            return;
        }
    }
}

fn statuses(map: &SeatMap) -> Vec<(String, String)> {
    map.seats.iter().map(|s| (s.seat_id.clone(), s.status.clone())).collect()
}

/// The screening a SEATS event is about; `None` for anything else.
fn screening_of(payload: &[u8]) -> Option<Uuid> {
    let envelope = Envelope::decode(payload).ok()?;
    let payload = envelope.payload.as_slice();
    let id = match envelope.event_type.as_str() {
        t if t == topics::SEATS_HELD.event_type => SeatsHeld::decode(payload).ok()?.screening_id,
        t if t == topics::SEATS_SOLD.event_type => SeatsSold::decode(payload).ok()?.screening_id,
        t if t == topics::SEATS_RELEASED.event_type => SeatsReleased::decode(payload).ok()?.screening_id,
        _ => return None,
    };
    id.parse().ok()
}
