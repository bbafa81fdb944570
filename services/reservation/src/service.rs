//! Use cases. Each owns its transaction and enqueues its events in it.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use cinema_mesh::bus::Bus;
use cinema_mesh::outbox::{self, Event, Relay};
use cinema_mesh::store::{Pool, get};
use cinema_mesh::{Shutdown, time};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1::BookingStatusChanged;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::topics;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::{self, BookingNumber, CustomerId, PageToken, SeatIds, Status, Transition};
use crate::projector::{self, Rebuilt, Stored, ViewStore};
use crate::store::{self, Change, ReservationRow};

/// The view, once its bucket is open (NATS answered).
pub type ViewHandle = tokio::sync::watch::Receiver<Option<ViewStore>>;

/// How long a read with `min_version` (or a watch) waits for the view.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);
/// How long one watch may last; the client reconnects if it still cares.
const WATCH_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("booking {0} does not exist")]
    BookingNotFound(String),
    #[error("booking {booking_number} is {} and cannot become {}", .from.as_str(), .to.as_str())]
    IllegalTransition { booking_number: String, from: Status, to: Status },
    #[error("the booking view is not available yet (NATS is unreachable); retry")]
    ViewUnavailable,
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
    bus: Bus,
    /// The live view's bucket, and the view once NATS answered.
    bucket: String,
    view: ViewHandle,
    /// Ends open watches when the server drains.
    shutdown: Shutdown,
}

impl Service {
    pub fn new(pool: Pool, relay: Relay, bus: Bus, bucket: String, view: ViewHandle, shutdown: Shutdown) -> Self {
        Self { pool, relay, bus, bucket, view, shutdown }
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

    /// The booking as the view shows it. A booking the view has not seen yet
    /// is read from the record; with `min_version`, waits (up to
    /// [`READ_YOUR_WRITES`]) for the view to reach it, then reads the record.
    pub async fn read(&self, number: &BookingNumber, min_version: u64) -> Result<pb::Booking, Error> {
        if let Some(booking) = self.read_view(number.as_str(), min_version).await {
            return Ok(booking);
        }
        Ok(record_to_proto(self.booking(number).await?))
    }

    async fn read_view(&self, number: &str, min_version: u64) -> Option<pb::Booking> {
        let view = self.view.borrow().clone()?;
        match view.get(number).await {
            Ok(Some(s)) if s.view.version() >= min_version => return s.view.render(number, s.revision),
            Ok(_) if min_version == 0 => return None,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(
                    message = "View read failed; reading the record.",
                    booking_number = number,
                    error = format!("{error:#}")
                );
                return None;
            }
        }
        let updates = view.watch(number).await.ok()?;
        let reached = updates.filter(|s| std::future::ready(s.view.version() >= min_version));
        let stored = tokio::time::timeout(READ_YOUR_WRITES, std::pin::pin!(reached).next()).await.ok().flatten()?;
        stored.view.render(number, stored.revision)
    }

    /// The booking now, then on every change of its view, until it reaches a
    /// final status, the receiver is dropped, the server drains or
    /// [`WATCH_LIMIT`] passes.
    pub async fn watch(&self, number: BookingNumber) -> Result<mpsc::Receiver<pb::Booking>, Error> {
        let first = self.read(&number, 0).await?;
        let mut handle = self.view.clone();
        let view = match tokio::time::timeout(READ_YOUR_WRITES, handle.wait_for(Option::is_some)).await {
            Ok(Ok(view)) => view.clone(),
            _ => None,
        };
        let view = view.ok_or(Error::ViewUnavailable)?;
        let updates = view.watch(number.as_str()).await?;
        let (tx, rx) = mpsc::channel(8);
        tx.try_send(first.clone()).map_err(|_| anyhow::anyhow!("a new channel has room"))?;
        tokio::spawn(follow(updates, first, tx, self.shutdown.clone()));
        Ok(rx)
    }

    /// Rebuilds the view from the streams into `bucket` (the live view when `None`).
    pub async fn rebuild_view(&self, bucket: Option<&str>) -> Result<(String, Rebuilt), Error> {
        let js = self.bus.jetstream();
        let bucket = bucket.unwrap_or(&self.bucket).to_owned();
        let target = ViewStore::open(js, &bucket, self.bus.stream_replicas()).await?;
        let started = std::time::Instant::now();
        let rebuilt = projector::rebuild(js, &target).await?;
        tracing::info!(
            message = "View rebuilt.",
            bucket,
            events = rebuilt.events_read,
            bookings = rebuilt.bookings,
            changed = rebuilt.entries_changed,
            took_ms = started.elapsed().as_millis() as u64
        );
        Ok((bucket, rebuilt))
    }
}

async fn follow(
    updates: impl futures::Stream<Item = Stored>,
    mut last: pb::Booking,
    tx: mpsc::Sender<pb::Booking>,
    shutdown: Shutdown,
) {
    let deadline = tokio::time::Instant::now() + WATCH_LIMIT;
    let mut updates = std::pin::pin!(updates);
    while !is_final(&last) {
        let stored = tokio::select! {
            _ = tx.closed() => return,
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(deadline) => return,
            next = updates.next() => match next {
                Some(stored) => stored,
                None => return,
            },
        };
        let Some(booking) = stored.view.render(&last.booking_number, stored.revision) else { continue };
        if booking.version < last.version || (pb::Booking { revision: last.revision, ..booking.clone() }) == last {
            continue; // older than what the client has, or nothing it can see changed
        }
        if tx.send(booking.clone()).await.is_err() {
            return;
        }
        last = booking;
    }
}

fn is_final(booking: &pb::Booking) -> bool {
    Status::from_proto(booking.status()).is_some_and(Status::is_final)
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
        payment_id: row.payment_id.clone().unwrap_or_default(),
        created_at: Some(time::to_proto(row.created_at)),
        updated_at: Some(time::to_proto(row.updated_at)),
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

/// A booking as the record has it (the view has not seen it yet).
pub fn record_to_proto(row: ReservationRow) -> pb::Booking {
    let status = BookingStatus::from(Status::from_db(&row.status));
    let amount = money(&row);
    pb::Booking {
        booking_number: row.booking_number,
        customer_id: row.customer_id,
        screening_id: row.screening_id.to_string(),
        seat_ids: row.seat_ids,
        status: status.into(),
        reason: row.reason,
        amount,
        payment_id: row.payment_id.unwrap_or_default(),
        movie_title: row.movie_title.unwrap_or_default(),
        screen_name: row.screen_name.unwrap_or_default(),
        starts_at: row.starts_at.map(time::to_proto),
        created_at: Some(time::to_proto(row.created_at)),
        updated_at: Some(time::to_proto(row.updated_at)),
        version: row.version as u64,
        ..Default::default()
    }
}

/// The amount, once confirmed.
pub fn money(row: &ReservationRow) -> Option<Money> {
    match (&row.currency, row.amount) {
        (Some(currency), Some(amount)) => Some(Money { currency: currency.clone(), amount }),
        _ => None,
    }
}
