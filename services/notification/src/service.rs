//! Use cases: turn a status change into deliveries, send them, list them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use cinema_mesh::Shutdown;
use cinema_mesh::store::{Pool, get};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::events::v1::{BookingStatusChanged, Envelope};
use cinema_proto::topics;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use prost::Message as _;
use tokio::sync::Notify;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::channel::{Channel, Failure, Message};
use crate::domain::{self, Booking, DeliveryStatus, Notified, Outcome};
use crate::store::{self, Attempt, DeliveryRow};

/// The inbox consumer of this service: the effects in this database.
pub const CONSUMER: &str = "notification";

/// Deliveries sent concurrently at once.
const BATCH: i64 = 32;
/// The longest the sender sleeps: deliveries committed by another replica are
/// seen at least this often.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// When a failed delivery is tried again, and when it is given up.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    channels: Arc<Vec<Channel>>,
    retry: Retry,
    wake: Arc<Notify>,
    /// Deliveries just recorded by this process, already claimed: the sender takes
    /// them from here instead of finding them with a query.
    fresh: Arc<Mutex<Vec<DeliveryRow>>>,
}

impl Service {
    pub fn new(pool: Pool, channels: Vec<Channel>, retry: Retry) -> Self {
        let retry = Retry { max_attempts: retry.max_attempts.max(1), ..retry };
        Self {
            pool,
            channels: Arc::new(channels),
            retry,
            wake: Arc::new(Notify::new()),
            fresh: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// How long a claimed delivery is kept from other senders: its send, recorded.
    fn lease(&self) -> Duration {
        self.channels.iter().map(Channel::timeout).max().unwrap_or_default() + Duration::from_secs(10)
    }

    /// Records one delivery per channel for a status change, in the
    /// transaction that records the event in the inbox (idempotent on the
    /// event id), and hands them to the sender. They are recorded claimed by this
    /// process (due only when the claim lapses), so no other sender takes them, and
    /// if this process dies before sending them, any sender does once the claim
    /// lapses. An event that can never be handled is set aside and acked, so it
    /// blocks nothing.
    pub async fn on_event(&self, envelope: Envelope) -> anyhow::Result<()> {
        if envelope.event_type != topics::BOOKING_STATUS_CHANGED.event_type {
            return Ok(());
        }
        let (event_id, event) = match decode(&envelope) {
            Ok(decoded) => decoded,
            Err(why) => return self.set_aside(&envelope, &why).await,
        };
        let Some(status) = BookingStatus::try_from(event.status).ok().and_then(Notified::from_proto) else {
            tracing::debug!(message = "Status not notified.", booking_number = %event.booking_number, status = event.status);
            return Ok(());
        };
        let booking = Booking {
            booking_number: event.booking_number.clone(),
            movie_title: event.movie_title,
            screen_name: event.screen_name,
            starts_at: event.starts_at.as_ref().and_then(cinema_mesh::time::from_proto),
            seat_ids: event.seat_ids,
            reason: event.reason,
        };
        let text = domain::message(status, &booking);
        let now = Utc::now();
        let claimed_until = now + self.lease();
        // Handled inside the event's consumer span: the sends join its trace.
        let traceparent = cinema_mesh::telemetry::current_traceparent().unwrap_or_default();
        let deliveries: Vec<DeliveryRow> = self
            .channels
            .iter()
            .map(|channel| DeliveryRow {
                notification_id: Uuid::now_v7(),
                event_id,
                channel: channel.name().to_owned(),
                booking_number: event.booking_number.clone(),
                customer_id: event.customer_id.clone(),
                booking_status: status.as_str().to_owned(),
                text: text.clone(),
                status: DeliveryStatus::Pending.as_str().to_owned(),
                attempts: 0,
                created_at: now,
                delivered_at: None,
                next_attempt_at: claimed_until,
                last_error: String::new(),
                traceparent: traceparent.clone(),
            })
            .collect();

        let mut conn = get(&self.pool).await?;
        let created = conn
            .transaction::<_, anyhow::Error, _>(async |c| {
                let mut created = Vec::new();
                if !cinema_mesh::inbox::first_time(c, CONSUMER, &envelope.event_id).await? {
                    return Ok(created);
                }
                for delivery in deliveries {
                    if store::insert_delivery(c, &delivery).await.context("insert delivery")? {
                        created.push(delivery);
                    }
                }
                Ok(created)
            })
            .await?;
        if !created.is_empty() {
            self.fresh.lock().unwrap_or_else(PoisonError::into_inner).extend(created);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Keeps an undecodable event for a human and acks it.
    async fn set_aside(&self, envelope: &Envelope, why: &str) -> anyhow::Result<()> {
        let mut conn = get(&self.pool).await?;
        cinema_mesh::inbox::set_aside(&mut conn, CONSUMER, envelope, why).await.context("set a poison event aside")?;
        Ok(())
    }

    /// Sends deliveries until `shutdown`: those handed over by [`Service::on_event`]
    /// at once, and the due ones (retries, and those whose sender died) when the next
    /// is due, looking at least every second.
    pub async fn dispatch(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        let mut poll_at = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            let fresh: Vec<DeliveryRow> = {
                let mut fresh = self.fresh.lock().unwrap_or_else(PoisonError::into_inner);
                let n = fresh.len().min(BATCH as usize);
                fresh.drain(..n).collect()
            };
            let round = if !fresh.is_empty() {
                self.deliver(fresh).await
            } else if tokio::time::Instant::now() >= poll_at {
                match self.deliver_due().await {
                    Ok((n, _)) if n as i64 == BATCH => continue,
                    Ok((_, retry_at)) => {
                        poll_at = tokio::time::Instant::now() + self.until_next_due().await;
                        Ok(retry_at)
                    }
                    Err(error) => Err(error),
                }
            } else {
                Ok(None)
            };
            match round {
                Ok(retry_at) => {
                    backoff = Duration::from_millis(100);
                    if let Some(at) = retry_at {
                        poll_at = poll_at.min(tokio::time::Instant::now() + until(at));
                    }
                }
                Err(error) => {
                    // What was not recorded stays claimed until the claim lapses, then is due.
                    tracing::warn!(message = "Notification sender failed; retrying.", error = format!("{error:#}"));
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    poll_at = tokio::time::Instant::now() + backoff;
                }
            }
            if !self.fresh.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(poll_at) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let due = match get(&self.pool).await {
            Ok(mut conn) => store::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        due.map_or(POLL, |at| until(at).min(POLL))
    }

    /// Claims the due deliveries and sends them: how many, and when the first that
    /// failed is due again.
    async fn deliver_due(&self) -> anyhow::Result<(usize, Option<DateTime<Utc>>)> {
        let lease = self.lease().as_millis() as i64;
        let mut conn = get(&self.pool).await?;
        let claimed = store::claim_due(&mut conn, lease, BATCH).await.context("claim deliveries")?;
        drop(conn);
        let n = claimed.len();
        Ok((n, self.deliver(claimed).await?))
    }

    /// Sends claimed deliveries at once and records each attempt; when the first
    /// that failed is due again.
    async fn deliver(&self, claimed: Vec<DeliveryRow>) -> anyhow::Result<Option<DateTime<Utc>>> {
        if claimed.is_empty() {
            return Ok(None);
        }
        let sends = claimed.iter().map(|delivery| async move { (delivery, self.send(delivery).await) });
        let sent = futures::future::join_all(sends).await;
        let mut conn = get(&self.pool).await?;
        let mut retry_at = None;
        for (delivery, sent) in sent {
            let again = self.record(&mut conn, delivery, sent).await?;
            retry_at = retry_at.into_iter().chain(again).min();
        }
        Ok(retry_at)
    }

    async fn send(&self, delivery: &DeliveryRow) -> Result<(), Failure> {
        let channel = self.channels.iter().find(|c| c.name() == delivery.channel);
        let channel =
            channel.ok_or_else(|| Failure::Retry(format!("channel {} is not configured", delivery.channel)))?;
        let status = Notified::from_db(&delivery.booking_status)
            .ok_or_else(|| Failure::Permanent(format!("unknown booking status {}", delivery.booking_status)))?;
        let message = Message {
            notification_id: delivery.notification_id,
            event_id: delivery.event_id,
            booking_number: &delivery.booking_number,
            customer_id: &delivery.customer_id,
            status,
            text: &delivery.text,
            created_at: delivery.created_at,
        };
        let span = tracing::info_span!(
            "deliver",
            otel.name = format!("notify {}", delivery.channel),
            otel.kind = "client",
            booking_number = %delivery.booking_number,
            channel = %delivery.channel,
            attempt = delivery.attempts + 1,
        );
        cinema_mesh::telemetry::set_parent(&span, Some(delivery.traceparent.as_str()));
        channel.deliver(&message).instrument(span).await
    }

    /// Records one attempt: delivered, due again after a backoff (when: returned), or
    /// dead-lettered.
    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        delivery: &DeliveryRow,
        sent: Result<(), Failure>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let attempts = u32::try_from(delivery.attempts).unwrap_or_default() + 1;
        let outcome = match &sent {
            Ok(()) => Outcome::Delivered,
            Err(Failure::Retry(_)) => Outcome::Failed,
            Err(Failure::Permanent(_)) => Outcome::Refused,
        };
        let status = DeliveryStatus::after_attempt(outcome, attempts, self.retry.max_attempts);
        let now = Utc::now();
        let wait = cinema_mesh::backoff::doubling(attempts, self.retry.base, self.retry.max);
        let attempt_due = now + wait;
        let attempt = Attempt {
            status: status.as_str(),
            // A delivered message keeps the error of the attempt before, if any.
            last_error: sent.as_ref().err().map_or(&delivery.last_error, |f| f.reason()),
            next_attempt_at: attempt_due,
            delivered_at: sent.is_ok().then_some(now),
        };
        let recorded = store::record_attempt(conn, delivery.notification_id, delivery.attempts, attempt)
            .await
            .context("record delivery attempt")?;
        let (notification_id, booking_number, channel) =
            (delivery.notification_id, &delivery.booking_number, &delivery.channel);
        match (&sent, status) {
            (_, _) if !recorded => {
                tracing::debug!(message = "Delivery attempt raced; already recorded.", %notification_id);
            }
            (Ok(()), _) => {
                let latency_ms = (now - delivery.created_at).num_milliseconds();
                tracing::debug!(message = "Notification delivered.", %notification_id, %channel, attempts, latency_ms);
            }
            (Err(failure), DeliveryStatus::DeadLettered) => tracing::error!(
                message = "Notification dead-lettered.", %notification_id, %booking_number, %channel, attempts,
                error = failure.reason()
            ),
            (Err(failure), _) => tracing::warn!(
                message = "Notification not delivered; will retry.", %notification_id, %booking_number, %channel,
                attempts, retry_in_ms = wait.as_millis() as u64, error = failure.reason()
            ),
        }
        Ok((recorded && status == DeliveryStatus::Pending).then_some(attempt_due))
    }

    /// A booking's deliveries, oldest first (none for an unknown booking).
    pub async fn list(&self, booking_number: &str) -> Result<Vec<DeliveryRow>, Error> {
        let mut conn = get(&self.pool).await?;
        Ok(store::deliveries_of(&mut conn, booking_number).await.context("list deliveries")?)
    }
}

/// How long from now until `at` (zero when past).
fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or_default()
}

/// The event id and payload, or why they can never be read.
fn decode(envelope: &Envelope) -> Result<(Uuid, BookingStatusChanged), String> {
    let event_id = envelope.event_id.parse().map_err(|e| format!("event id {:?}: {e}", envelope.event_id))?;
    let event = BookingStatusChanged::decode(envelope.payload.as_slice())
        .map_err(|e| format!("decode BookingStatusChanged: {e}"))?;
    Ok((event_id, event))
}
