//! Use cases. Each owns its transaction and enqueues its events in it.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use cinema_mesh::outbox::{self, Event, Relay};
use cinema_mesh::store::{Pool, get};
use cinema_mesh::{Shutdown, time};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1::BookingStatusChanged;
use cinema_proto::topics;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::{self, BookingNumber, CustomerId, PageToken, SeatIds, Status, Transition};
use crate::store::{self, Change, ReservationRow};

/// How often a watch looks for a new version.
const WATCH_POLL: Duration = Duration::from_millis(250);
/// How long one watch may last; the client reconnects if it still cares.
const WATCH_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("booking {0} does not exist")]
    BookingNotFound(String),
    #[error("booking {booking_number} is {} and cannot become {}", .from.as_str(), .to.as_str())]
    IllegalTransition { booking_number: String, from: Status, to: Status },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// What confirming a reservation records.
#[derive(Clone, Debug)]
pub struct Confirmation {
    pub payment_id: String,
    pub currency: String,
    pub amount: i64,
    pub movie_title: Option<String>,
    pub screen_name: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
}

/// One page of a customer's bookings.
pub struct Page {
    pub bookings: Vec<ReservationRow>,
    pub next: Option<PageToken>,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    relay: Relay,
    /// Ends open watches when the server drains.
    shutdown: Shutdown,
}

impl Service {
    pub fn new(pool: Pool, relay: Relay, shutdown: Shutdown) -> Self {
        Self { pool, relay, shutdown }
    }

    /// Creates the reservation as PENDING (version 1); a number that exists
    /// is answered with its reservation unchanged.
    #[tracing::instrument(skip_all, fields(booking_number = %number.as_str()))]
    pub async fn create(
        &self,
        number: BookingNumber,
        customer_id: CustomerId,
        screening_id: Uuid,
        seat_ids: SeatIds,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let seat_ids = seat_ids.into_inner();
        let mut conn = get(&self.pool).await?;
        let (row, created) = conn
            .transaction::<_, Error, _>(async |c| {
                let inserted = store::insert_pending(c, number.as_str(), customer_id.as_str(), screening_id, &seat_ids)
                    .await
                    .context("insert reservation")?;
                let Some(row) = inserted else {
                    let first = store::reservation(c, number.as_str())
                        .await
                        .context("read the existing reservation")?
                        .context("a conflicting booking number has a row")?;
                    return Ok((first, false));
                };
                enqueue_status_changed(c, &row, None, correlation_id).await?;
                Ok((row, true))
            })
            .await?;
        if created {
            self.relay.wake();
            tracing::info!(message = "Reservation created.", seats = row.seat_ids.len());
        }
        Ok(row)
    }

    pub async fn confirm(
        &self,
        number: &BookingNumber,
        c: Confirmation,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let change = Change {
            status: Status::Confirmed.as_str(),
            reason: "",
            payment_id: Some(&c.payment_id),
            currency: Some(&c.currency),
            amount: Some(c.amount),
            movie_title: c.movie_title.as_deref(),
            screen_name: c.screen_name.as_deref(),
            starts_at: c.starts_at,
        };
        self.change(number, Status::Confirmed, change, correlation_id).await
    }

    /// `to` is REJECTED or EXPIRED.
    pub async fn reject(
        &self,
        number: &BookingNumber,
        to: Status,
        reason: &str,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let change = Change { status: to.as_str(), reason, ..Change::default() };
        self.change(number, to, change, correlation_id).await
    }

    /// PENDING -> AWAITING_PAYMENT, while payment is unavailable.
    pub async fn await_payment(
        &self,
        number: &BookingNumber,
        reason: &str,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let change = Change { status: Status::AwaitingPayment.as_str(), reason, ..Change::default() };
        self.change(number, Status::AwaitingPayment, change, correlation_id).await
    }

    /// CONFIRMED -> CANCELLING, while the refund and the release run.
    pub async fn begin_cancellation(
        &self,
        number: &BookingNumber,
        reason: &str,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let change = Change { status: Status::Cancelling.as_str(), reason, ..Change::default() };
        self.change(number, Status::Cancelling, change, correlation_id).await
    }

    pub async fn cancel(
        &self,
        number: &BookingNumber,
        reason: &str,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let change = Change { status: Status::Cancelled.as_str(), reason, ..Change::default() };
        self.change(number, Status::Cancelled, change, correlation_id).await
    }

    /// Moves the reservation to `to` if the table allows it: locked, checked,
    /// written with the next version and its event, in one transaction.
    #[tracing::instrument(skip_all, fields(booking_number = %number.as_str(), to = to.as_str()))]
    async fn change(
        &self,
        number: &BookingNumber,
        to: Status,
        change: Change<'_>,
        correlation_id: &str,
    ) -> Result<ReservationRow, Error> {
        let mut conn = get(&self.pool).await?;
        let (row, from) = conn
            .transaction::<_, Error, _>(async |c| {
                let current = store::lock(c, number.as_str())
                    .await
                    .context("lock reservation")?
                    .ok_or_else(|| Error::BookingNotFound(number.as_str().to_owned()))?;
                let from = Status::from_db(&current.status);
                match domain::transition(from, to) {
                    Transition::AlreadyThere => return Ok((current, None)),
                    Transition::Illegal => {
                        return Err(Error::IllegalTransition { booking_number: current.booking_number, from, to });
                    }
                    Transition::Apply => {}
                }
                let row = store::update(c, number.as_str(), &change).await.context("update reservation")?;
                enqueue_status_changed(c, &row, Some(from), correlation_id).await?;
                Ok((row, Some(from)))
            })
            .await?;
        if let Some(from) = from {
            self.relay.wake();
            tracing::info!(message = "Reservation changed.", from = from.as_str(), version = row.version, reason = %row.reason);
        }
        Ok(row)
    }

    pub async fn booking(&self, number: &BookingNumber) -> Result<ReservationRow, Error> {
        let mut conn = get(&self.pool).await?;
        store::reservation(&mut conn, number.as_str())
            .await
            .context("read reservation")?
            .ok_or_else(|| Error::BookingNotFound(number.as_str().to_owned()))
    }

    /// A customer's bookings, newest first.
    pub async fn list(&self, customer_id: &CustomerId, after: Option<PageToken>, size: i64) -> Result<Page, Error> {
        let mut conn = get(&self.pool).await?;
        let after = after.as_ref().map(|t| (t.created_at, t.booking_number.as_str()));
        let mut bookings = store::page(&mut conn, customer_id.as_str(), after, size + 1)
            .await
            .context("read a page of reservations")?;
        let next = if bookings.len() as i64 > size {
            bookings.truncate(size as usize);
            bookings
                .last()
                .map(|last| PageToken { created_at: last.created_at, booking_number: last.booking_number.clone() })
        } else {
            None
        };
        Ok(Page { bookings, next })
    }

    /// The booking now, then on every new version, until it reaches a final
    /// status, the receiver is dropped, the server drains or [`WATCH_LIMIT`] passes.
    pub async fn watch(&self, number: BookingNumber) -> Result<mpsc::Receiver<ReservationRow>, Error> {
        let first = self.booking(&number).await?;
        let (tx, rx) = mpsc::channel(8);
        tx.try_send(first.clone()).map_err(|_| anyhow::anyhow!("a new channel has room"))?;
        tokio::spawn(self.clone().follow(number, first, tx));
        Ok(rx)
    }

    async fn follow(self, number: BookingNumber, mut last: ReservationRow, tx: mpsc::Sender<ReservationRow>) {
        let deadline = tokio::time::Instant::now() + WATCH_LIMIT;
        let mut tick = tokio::time::interval(WATCH_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; the caller has the current booking
        while !Status::from_db(&last.status).is_final() {
            tokio::select! {
                _ = tx.closed() => return,
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tick.tick() => {}
            }
            match self.booking(&number).await {
                Ok(row) if row.version != last.version => {
                    if tx.send(row.clone()).await.is_err() {
                        return;
                    }
                    last = row;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(message = "Watch poll failed; retrying.", booking_number = %number.as_str(), error = format!("{error:#}"));
                }
            }
        }
    }
}

/// Enqueues the `BookingStatusChanged` of `row`'s current version.
async fn enqueue_status_changed(
    c: &mut AsyncPgConnection,
    row: &ReservationRow,
    previous: Option<Status>,
    correlation_id: &str,
) -> Result<(), Error> {
    let event = BookingStatusChanged {
        booking_number: row.booking_number.clone(),
        customer_id: row.customer_id.clone(),
        screening_id: row.screening_id.to_string(),
        seat_ids: row.seat_ids.clone(),
        status: BookingStatus::from(Status::from_db(&row.status)).into(),
        previous_status: previous.map_or(BookingStatus::Unspecified, BookingStatus::from).into(),
        reason: row.reason.clone(),
        amount: money(row),
        movie_title: row.movie_title.clone().unwrap_or_default(),
        screen_name: row.screen_name.clone().unwrap_or_default(),
        starts_at: row.starts_at.map(time::to_proto),
        version: row.version as u64,
    };
    outbox::enqueue(
        c,
        Event {
            topic: topics::BOOKING_STATUS_CHANGED,
            aggregate_id: &row.booking_number,
            aggregate_version: row.version as u64,
            payload: &event,
            correlation_id,
            causation_id: correlation_id,
        },
    )
    .await?;
    Ok(())
}

/// The amount, once confirmed.
pub fn money(row: &ReservationRow) -> Option<Money> {
    match (&row.currency, row.amount) {
        (Some(currency), Some(amount)) => Some(Money { currency: currency.clone(), amount }),
        _ => None,
    }
}
