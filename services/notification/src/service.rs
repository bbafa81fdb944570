//! Use cases: turn a status change into deliveries, send them, list them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
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

/// Deliveries claimed (and sent concurrently) at once.
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
}

impl Service {
    pub fn new(pool: Pool, channels: Vec<Channel>, retry: Retry) -> Self {
        let retry = Retry { max_attempts: retry.max_attempts.max(1), ..retry };
        Self { pool, channels: Arc::new(channels), retry, wake: Arc::new(Notify::new()) }
    }

    /// Records one delivery per channel for a status change, in the
    /// transaction that records the event in the inbox (idempotent on the
    /// event id), and wakes the sender. An event that can never be handled is
    /// set aside and acked, so it blocks nothing.
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
                next_attempt_at: now,
                last_error: String::new(),
                traceparent: traceparent.clone(),
            })
            .collect();

        let mut conn = get(&self.pool).await?;
        let created = conn
            .transaction::<_, anyhow::Error, _>(async |c| {
                let mut created = 0;
                if !cinema_mesh::inbox::first_time(c, CONSUMER, &envelope.event_id).await? {
                    return Ok(created);
                }
                for delivery in &deliveries {
                    created += usize::from(store::insert_delivery(c, delivery).await.context("insert delivery")?);
                }
                Ok(created)
            })
            .await?;
        if created > 0 {
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

    /// Sends due deliveries until `shutdown`: woken after each new event, and
    /// else when the next retry is due (at least every second).
    pub async fn dispatch(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let wait = match self.dispatch_batch().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    self.until_next_due().await
                }
                Err(error) => {
                    tracing::warn!(message = "Notification sender failed; retrying.", error = format!("{error:#}"));
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let due = match get(&self.pool).await {
            Ok(mut conn) => store::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        due.map_or(POLL, |at| (at - Utc::now()).to_std().unwrap_or_default().min(POLL))
    }

    /// Claims the due deliveries, sends them at once, records each attempt.
    async fn dispatch_batch(&self) -> anyhow::Result<usize> {
        let slowest = self.channels.iter().map(Channel::timeout).max().unwrap_or_default();
        let lease = slowest + Duration::from_secs(10);
        let mut conn = get(&self.pool).await?;
        let claimed = store::claim_due(&mut conn, lease.as_millis() as i64, BATCH).await.context("claim deliveries")?;
        let sends = claimed.iter().map(|delivery| async move { (delivery, self.send(delivery).await) });
        for (delivery, sent) in futures::future::join_all(sends).await {
            self.record(&mut conn, delivery, sent).await?;
        }
        Ok(claimed.len())
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

    /// Records one attempt: delivered, due again after a backoff, or dead-lettered.
    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        delivery: &DeliveryRow,
        sent: Result<(), Failure>,
    ) -> anyhow::Result<()> {
        let attempts = u32::try_from(delivery.attempts).unwrap_or_default() + 1;
        let outcome = match &sent {
            Ok(()) => Outcome::Delivered,
            Err(Failure::Retry(_)) => Outcome::Failed,
            Err(Failure::Permanent(_)) => Outcome::Refused,
        };
        let status = DeliveryStatus::after_attempt(outcome, attempts, self.retry.max_attempts);
        let now = Utc::now();
        let wait = cinema_mesh::backoff::doubling(attempts, self.retry.base, self.retry.max);
        let attempt = Attempt {
            status: status.as_str(),
            // A delivered message keeps the error of the attempt before, if any.
            last_error: sent.as_ref().err().map_or(&delivery.last_error, |f| f.reason()),
            next_attempt_at: now + wait,
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
        Ok(())
    }

    /// A booking's deliveries, oldest first (none for an unknown booking).
    pub async fn list(&self, booking_number: &str) -> Result<Vec<DeliveryRow>, Error> {
        let mut conn = get(&self.pool).await?;
        Ok(store::deliveries_of(&mut conn, booking_number).await.context("list deliveries")?)
    }
}

/// The event id and payload, or why they can never be read.
fn decode(envelope: &Envelope) -> Result<(Uuid, BookingStatusChanged), String> {
    let event_id = envelope.event_id.parse().map_err(|e| format!("event id {:?}: {e}", envelope.event_id))?;
    let event = BookingStatusChanged::decode(envelope.payload.as_slice())
        .map_err(|e| format!("decode BookingStatusChanged: {e}"))?;
    Ok((event_id, event))
}
