//! Use cases: turn a status change into deliveries, send them, list them.

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
use uuid::Uuid;

use crate::channel::{Channel, Message};
use crate::domain::{self, Booking, DeliveryStatus, Notified};
use crate::store::{self, DeliveryRow};

/// The durable consumer name (and inbox consumer) of this service.
pub const CONSUMER: &str = "notification";

/// How often the retry loop looks for deliveries left PENDING.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// A PENDING delivery this old was not sent right after its commit (a crash,
/// a failed attempt): the retry loop sends it.
const RETRY_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(2);
const RETRY_BATCH: i64 = 50;

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

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    channels: Vec<Channel>,
    max_attempts: u32,
}

impl Service {
    pub fn new(pool: Pool, channels: Vec<Channel>, max_attempts: u32) -> Self {
        Self { pool, channels, max_attempts: max_attempts.max(1) }
    }

    /// Records one delivery per channel for a customer-visible status change
    /// (idempotent on the event id), then sends them.
    pub async fn on_event(&self, envelope: Envelope) -> anyhow::Result<()> {
        if envelope.event_type != topics::BOOKING_STATUS_CHANGED.event_type {
            return Ok(());
        }
        let event = BookingStatusChanged::decode(envelope.payload.as_slice()).context("decode BookingStatusChanged")?;
        let Some(status) = BookingStatus::try_from(event.status).ok().and_then(Notified::from_proto) else {
            tracing::debug!(message = "Status not notified.", booking_number = %event.booking_number, status = event.status);
            return Ok(());
        };
        let event_id: Uuid = envelope.event_id.parse().context("event id")?;
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
        // Committed: from here a crash leaves them PENDING for the retry loop.
        for delivery in &created {
            self.attempt(&mut conn, delivery).await?;
        }
        Ok(())
    }

    /// Every second, sends the deliveries left PENDING, until `shutdown`.
    pub async fn retry_pending(self, shutdown: Shutdown) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.retry_batch().await {
                tracing::warn!(message = "Notification retry failed; trying again.", error = format!("{error:#}"));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RETRY_EVERY) => {}
            }
        }
    }

    async fn retry_batch(&self) -> anyhow::Result<()> {
        let mut conn = get(&self.pool).await?;
        let cutoff = Utc::now() - RETRY_AFTER;
        // The rows stay locked while they are sent: replicas never send the same one twice.
        conn.transaction::<_, anyhow::Error, _>(async |c| {
            for delivery in store::claim_stale(c, cutoff, RETRY_BATCH).await.context("claim pending deliveries")? {
                self.attempt(c, &delivery).await?;
            }
            Ok(())
        })
        .await
    }

    /// Sends one delivery on its channel and records the attempt. A failed
    /// send is not an error: the delivery stays PENDING (or is dead-lettered).
    async fn attempt(&self, conn: &mut AsyncPgConnection, delivery: &DeliveryRow) -> anyhow::Result<()> {
        let sent = match self.channels.iter().find(|c| c.name() == delivery.channel) {
            Some(channel) => {
                let message = Message {
                    booking_number: &delivery.booking_number,
                    customer_id: &delivery.customer_id,
                    text: &delivery.text,
                };
                channel.deliver(message).await
            }
            None => Err(anyhow::anyhow!("channel {:?} is not configured", delivery.channel)),
        };
        let attempts = u32::try_from(delivery.attempts).unwrap_or_default() + 1;
        let status = DeliveryStatus::after_attempt(sent.is_ok(), attempts, self.max_attempts);
        let delivered_at = sent.is_ok().then(Utc::now);
        let recorded =
            store::record_attempt(conn, delivery.notification_id, delivery.attempts, status.as_str(), delivered_at)
                .await
                .context("record delivery attempt")?;
        let (notification_id, booking_number, channel) =
            (delivery.notification_id, &delivery.booking_number, &delivery.channel);
        match (&sent, status) {
            (_, _) if !recorded => {
                tracing::debug!(message = "Delivery attempt raced; already recorded.", %notification_id);
            }
            (Ok(()), _) => {}
            (Err(error), DeliveryStatus::DeadLettered) => tracing::error!(
                message = "Notification dead-lettered.", %notification_id, %booking_number, %channel, attempts,
                error = format!("{error:#}")
            ),
            (Err(error), _) => tracing::warn!(
                message = "Notification not delivered; will retry.", %notification_id, %booking_number, %channel, attempts,
                error = format!("{error:#}")
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
