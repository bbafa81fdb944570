//! Use cases: apply a status change to the ledger (and queue it for the
//! partner), link a partner membership, read a customer's points.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use cinema_mesh::store::{Pool, get};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::events::v1::{BookingStatusChanged, Envelope};
use cinema_proto::topics;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use prost::Message;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::{self, AccrualPercent, Amount, BookingLedger, Kind, MemberNumber, Membership, PageSize, PageToken};
use crate::store::{self, EntryRow, HistoryRow, LinkRow, PartnerRow};

/// The inbox consumer of this service: the effects in this database.
pub const CONSUMER: &str = "loyalty";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not the partner this deployment relays to (or none is configured).
    #[error("{0:?} is not a partner of this deployment")]
    UnknownPartner(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A customer's balance, partner link and one page of their history, newest first.
pub struct Points {
    pub balance: i64,
    pub partner: Option<LinkRow>,
    pub history: Vec<HistoryRow>,
    pub next: Option<PageToken>,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    percent: AccrualPercent,
    /// The partner customers may link to, if one is configured.
    partner_id: Option<String>,
    /// Wakes the partner relay after a commit that queued a row.
    relay: Arc<Notify>,
}

impl Service {
    pub fn new(pool: Pool, percent: AccrualPercent, partner_id: Option<String>, relay: Arc<Notify>) -> Self {
        Self { pool, percent, partner_id, relay }
    }

    /// Accrues on CONFIRMED, revokes on CANCELLED; the inbox row, the ledger
    /// entry, the balance change and the partner outbox row commit together
    /// (idempotent on the event id, and on the booking and kind). An event
    /// that can never be handled is set aside and acked, so it blocks nothing.
    pub async fn on_event(&self, envelope: Envelope) -> anyhow::Result<()> {
        if envelope.event_type != topics::BOOKING_STATUS_CHANGED.event_type {
            return Ok(());
        }
        let event = match decode(&envelope) {
            Ok(event) => event,
            Err(why) => return self.set_aside(&envelope, &why).await,
        };
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
                    cancelled: store::is_cancelled(c, &booking_number).await.context("read cancellation")?,
                };
                let entry = domain::entry_for(status, &paid, self.percent, ledger);
                if status == BookingStatus::Cancelled {
                    // Remembered even when nothing is revoked: a late CONFIRMED then grants nothing.
                    let customer_id = accrual.map_or(&event.customer_id, |a| &a.customer_id);
                    store::record_cancellation(c, &booking_number, customer_id).await.context("record cancellation")?;
                }
                let Some(entry) = entry else {
                    if status == BookingStatus::Confirmed && ledger.cancelled {
                        tracing::info!(message = "Confirmation after cancellation; no points.", %booking_number);
                    }
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
                let relayed = self.enqueue_for_partner(c, &row, entry.kind).await?;
                Ok(Some((row, relayed)))
            })
            .await?;
        if let Some((row, relayed)) = written {
            tracing::info!(
                message = "Points recorded.", booking_number = %row.booking_number,
                customer_id = %row.customer_id, kind = %row.kind, points = row.points, relayed
            );
            if relayed {
                self.relay.notify_one();
            }
        }
        Ok(())
    }

    /// Queues the entry for the partner when it has a membership to go to;
    /// `true` when queued.
    async fn enqueue_for_partner(&self, c: &mut AsyncPgConnection, row: &EntryRow, kind: Kind) -> anyhow::Result<bool> {
        let membership = |link: LinkRow| Membership { partner_id: link.partner_id, member_number: link.member_number };
        let (linked, accrual_went_to) = match kind {
            Kind::Accrual => (store::link_of(c, &row.customer_id).await.context("read link")?.map(membership), None),
            Kind::Revocation => {
                let to = store::accrual_relayed_to(c, &row.booking_number).await.context("read accrual relay")?;
                (None, to.map(membership))
            }
        };
        let Some(to) = domain::relay_target(kind, linked.as_ref(), accrual_went_to.as_ref()) else {
            return Ok(false);
        };
        let outbox = PartnerRow {
            entry_id: row.entry_id,
            partner_id: to.partner_id.clone(),
            member_number: to.member_number.clone(),
            customer_id: row.customer_id.clone(),
            booking_number: row.booking_number.clone(),
            kind: row.kind.clone(),
            points: row.points,
            attempts: 0,
            last_error: String::new(),
            created_at: row.created_at,
            // Written inside the event's consumer span: the relay joins its trace.
            traceparent: cinema_mesh::telemetry::current_traceparent().unwrap_or_default(),
        };
        store::enqueue_partner(c, &outbox).await.context("queue for the partner")?;
        Ok(true)
    }

    /// Keeps an undecodable event for a human and acks it.
    async fn set_aside(&self, envelope: &Envelope, why: &str) -> anyhow::Result<()> {
        let mut conn = get(&self.pool).await?;
        cinema_mesh::inbox::set_aside(&mut conn, CONSUMER, envelope, why).await.context("set a poison event aside")?;
        Ok(())
    }

    /// Links the customer's membership of the configured partner.
    pub async fn link(&self, customer_id: &str, partner_id: &str, member: &MemberNumber) -> Result<LinkRow, Error> {
        if self.partner_id.as_deref() != Some(partner_id) {
            return Err(Error::UnknownPartner(partner_id.to_owned()));
        }
        let mut conn = get(&self.pool).await?;
        let link = store::upsert_link(&mut conn, customer_id, partner_id, member.as_str()).await.context("link")?;
        tracing::info!(message = "Partner linked.", %customer_id, %partner_id);
        Ok(link)
    }

    /// `true` when there was a link.
    pub async fn unlink(&self, customer_id: &str) -> Result<bool, Error> {
        let mut conn = get(&self.pool).await?;
        Ok(store::delete_link(&mut conn, customer_id).await.context("unlink")?)
    }

    /// The customer's balance (0 when unknown) and a page of history.
    pub async fn points(&self, customer_id: &str, size: PageSize, after: Option<PageToken>) -> Result<Points, Error> {
        let limit = i64::from(size.get());
        let after = after.map(|t| (t.created_at, t.entry_id));
        let mut conn = get(&self.pool).await?;
        // One snapshot: the balance always matches the history shown with it.
        let (balance, partner, mut history) = conn
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run::<_, anyhow::Error, _>(async |c| {
                let balance = store::balance(c, customer_id).await.context("read balance")?.unwrap_or(0);
                let partner = store::link_of(c, customer_id).await.context("read link")?;
                // One more than the page: its presence says there is a next page.
                let history = store::history(c, customer_id, after, limit + 1).await.context("read history")?;
                Ok((balance, partner, history))
            })
            .await?;
        let next = if history.len() as i64 > limit {
            history.truncate(size.get() as usize);
            history.last().map(|e| PageToken { created_at: e.entry.created_at, entry_id: e.entry.entry_id })
        } else {
            None
        };
        Ok(Points { balance, partner, history, next })
    }
}

/// The payload, or why it can never be read.
fn decode(envelope: &Envelope) -> Result<BookingStatusChanged, String> {
    uuid::Uuid::parse_str(&envelope.event_id).map_err(|e| format!("event id {:?}: {e}", envelope.event_id))?;
    BookingStatusChanged::decode(envelope.payload.as_slice()).map_err(|e| format!("decode BookingStatusChanged: {e}"))
}
