//! Use cases: apply a status change to the ledger, read a customer's points.

use anyhow::Context;
use chrono::Utc;
use cinema_mesh::store::{Pool, get};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::events::v1::{BookingStatusChanged, Envelope};
use cinema_proto::topics;
use diesel_async::AsyncConnection;
use prost::Message;
use uuid::Uuid;

use crate::domain::{self, AccrualPercent, Amount, BookingLedger, Kind, PageSize, PageToken};
use crate::store::{self, EntryRow};

/// The durable consumer name (and inbox consumer) of this service.
pub const CONSUMER: &str = "loyalty";

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

/// A customer's balance and one page of their history, newest first.
pub struct Points {
    pub balance: i64,
    pub history: Vec<EntryRow>,
    pub next: Option<PageToken>,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    percent: AccrualPercent,
}

impl Service {
    pub fn new(pool: Pool, percent: AccrualPercent) -> Self {
        Self { pool, percent }
    }

    /// Accrues on CONFIRMED, revokes on CANCELLED; the inbox row, the ledger
    /// entry and the balance change commit together (idempotent on the event
    /// id, and on the booking and kind).
    pub async fn on_event(&self, envelope: Envelope) -> anyhow::Result<()> {
        if envelope.event_type != topics::BOOKING_STATUS_CHANGED.event_type {
            return Ok(());
        }
        let event = BookingStatusChanged::decode(envelope.payload.as_slice()).context("decode BookingStatusChanged")?;
        let status = BookingStatus::try_from(event.status).unwrap_or_default();
        if !matches!(status, BookingStatus::Confirmed | BookingStatus::Cancelled) {
            return Ok(());
        }
        let paid = event.amount.map(|m| Amount { currency: m.currency, amount: m.amount }).unwrap_or_default();
        let booking_number = event.booking_number;
        let mut conn = get(&self.pool).await?;
        let written = conn
            .transaction::<_, anyhow::Error, _>(async |c| {
                if !cinema_mesh::inbox::first_time(c, CONSUMER, &envelope.event_id).await? {
                    return Ok(None);
                }
                store::lock_booking(c, &booking_number).await.context("lock booking")?;
                let existing = store::entries_of_booking(c, &booking_number).await.context("read booking entries")?;
                let accrual = existing.iter().find(|e| e.kind == Kind::Accrual.as_str());
                let ledger = BookingLedger {
                    accrued: accrual.map(|e| e.points),
                    revoked: existing.iter().any(|e| e.kind == Kind::Revocation.as_str()),
                };
                let Some(entry) = domain::entry_for(status, &paid, self.percent, ledger) else {
                    return Ok(None);
                };
                // Points go back to whoever earned them.
                let customer_id = accrual.map_or(event.customer_id.clone(), |a| a.customer_id.clone());
                let row = EntryRow {
                    entry_id: Uuid::now_v7(),
                    customer_id,
                    booking_number: booking_number.clone(),
                    kind: entry.kind.as_str().to_owned(),
                    points: entry.points,
                    reason: entry.reason,
                    created_at: Utc::now(),
                };
                if !store::insert_entry(c, &row).await.context("insert ledger entry")? {
                    return Ok(None);
                }
                if row.points >= 0 {
                    store::credit(c, &row.customer_id, row.points).await.context("credit balance")?;
                } else {
                    let debited = store::debit(c, &row.customer_id, -row.points).await.context("debit balance")?;
                    anyhow::ensure!(debited, "customer {} has no balance to revoke from", row.customer_id);
                }
                Ok(Some(row))
            })
            .await?;
        if let Some(row) = written {
            tracing::info!(
                message = "Points recorded.", booking_number = %row.booking_number,
                customer_id = %row.customer_id, kind = %row.kind, points = row.points
            );
        }
        Ok(())
    }

    /// The customer's balance (0 when unknown) and a page of history.
    pub async fn points(&self, customer_id: &str, size: PageSize, after: Option<PageToken>) -> Result<Points, Error> {
        let mut conn = get(&self.pool).await?;
        let balance = store::balance(&mut conn, customer_id).await.context("read balance")?.unwrap_or(0);
        let limit = i64::from(size.get());
        let after = after.map(|t| (t.created_at, t.entry_id));
        // One more than the page: its presence says there is a next page.
        let mut history = store::history(&mut conn, customer_id, after, limit + 1).await.context("read history")?;
        let next = if history.len() as i64 > limit {
            history.truncate(size.get() as usize);
            history.last().map(|e| PageToken { created_at: e.created_at, entry_id: e.entry_id })
        } else {
            None
        };
        Ok(Points { balance, history, next })
    }
}
