//! Use cases. Each owns its transaction and enqueues its events in it.

use chrono::{DateTime, Utc};
use cinema_mesh::outbox::{self, Event, Relay};
use cinema_mesh::store::{Pool, get};
use cinema_proto::events::v1::{Envelope, ScreeningScheduled, SeatsHeld, SeatsReleased, SeatsSold};
use cinema_proto::topics;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use prost::Message;
use uuid::Uuid;

use crate::domain::SeatIds;
use crate::store::{self, HoldRow, ScreeningRow, SeatRow};

/// The durable consumer name of the inventory builder.
pub const CONSUMER: &str = "seats";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("screening {0} does not exist")]
    ScreeningNotFound(Uuid),
    #[error("seat {0} does not exist in this screening")]
    SeatNotFound(String),
    #[error("seat {0} is already taken")]
    SeatTaken(String),
    #[error("booking {0} holds no seats")]
    HoldNotFound(String),
    #[error("the hold of booking {0} was released")]
    HoldReleased(String),
    #[error("the hold of booking {booking_number} expired and seat {seat_id} was taken since")]
    HoldExpired { booking_number: String, seat_id: String },
    #[error("booking {0} already holds other seats")]
    HoldMismatch(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A hold with what the booking needs to show.
pub struct Hold {
    pub row: HoldRow,
    pub screening: ScreeningRow,
    pub currency: String,
}

pub struct SeatMap {
    pub screening: ScreeningRow,
    pub seats: Vec<SeatRow>,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    relay: Relay,
    hold_ttl: chrono::Duration,
}

impl Service {
    pub fn new(pool: Pool, relay: Relay, hold_ttl: std::time::Duration) -> Self {
        let hold_ttl = chrono::Duration::from_std(hold_ttl).unwrap_or(chrono::Duration::minutes(10));
        Self { pool, relay, hold_ttl }
    }

    /// The live seat map; a seat whose hold expired shows AVAILABLE.
    pub async fn seat_map(&self, screening_id: Uuid) -> Result<SeatMap, Error> {
        let mut conn = get(&self.pool).await?;
        let screening =
            store::screening(&mut conn, screening_id).await?.ok_or(Error::ScreeningNotFound(screening_id))?;
        let now = Utc::now();
        let seats = store::seats(&mut conn, screening_id)
            .await?
            .into_iter()
            .map(|mut seat| {
                if is_free(&seat, now) {
                    seat.status = "AVAILABLE".into();
                }
                seat
            })
            .collect();
        Ok(SeatMap { screening, seats })
    }

    /// Holds every seat or none. Idempotent on the booking number.
    pub async fn hold(
        &self,
        booking_number: &str,
        screening_id: Uuid,
        seats: SeatIds,
        correlation_id: &str,
    ) -> Result<Hold, Error> {
        let seat_ids = seats.to_vec();
        let ttl = self.hold_ttl;
        let hold = get(&self.pool)
            .await?
            .transaction::<_, Error, _>(async |c| {
                let screening =
                    store::screening(c, screening_id).await?.ok_or(Error::ScreeningNotFound(screening_id))?;
                if let Some(existing) = store::hold(c, booking_number, true).await? {
                    if existing.screening_id != screening_id || existing.seat_ids != seat_ids {
                        return Err(Error::HoldMismatch(booking_number.to_owned()));
                    }
                    if existing.status == "RELEASED" {
                        return Err(Error::HoldReleased(booking_number.to_owned()));
                    }
                    return Ok(Hold { row: existing, currency: screening.currency.clone(), screening });
                }
                let locked = store::lock_seats(c, screening_id, &seat_ids).await?;
                if let Some(missing) = seat_ids.iter().find(|id| !locked.iter().any(|s| &s.seat_id == *id)) {
                    return Err(Error::SeatNotFound(missing.clone()));
                }
                let now = Utc::now();
                if let Some(taken) = locked.iter().find(|s| !is_free(s, now)) {
                    return Err(Error::SeatTaken(taken.seat_id.clone()));
                }
                let expires_at = now + ttl;
                store::hold_seats(c, screening_id, &seat_ids, booking_number, expires_at).await?;
                let row = HoldRow {
                    booking_number: booking_number.to_owned(),
                    screening_id,
                    seat_ids: seat_ids.clone(),
                    total: locked.iter().map(|s| s.price).sum(),
                    expires_at,
                    status: "HELD".into(),
                };
                store::insert_hold(c, &row).await?;
                let event = SeatsHeld {
                    screening_id: screening_id.to_string(),
                    booking_number: booking_number.to_owned(),
                    seat_ids: seat_ids.clone(),
                    expires_at: Some(cinema_mesh::time::to_proto(expires_at)),
                };
                enqueue(c, topics::SEATS_HELD, booking_number, 1, &event, correlation_id).await?;
                Ok(Hold { row, currency: screening.currency.clone(), screening })
            })
            .await?;
        self.relay.wake();
        tracing::info!(message = "Seats held.", %booking_number, seats = hold.row.seat_ids.len());
        Ok(hold)
    }

    /// Sells the booking's held seats. An expired hold is taken back when its
    /// seats are still free; otherwise HOLD_EXPIRED.
    pub async fn confirm(&self, booking_number: &str, correlation_id: &str) -> Result<Hold, Error> {
        let hold = get(&self.pool)
            .await?
            .transaction::<_, Error, _>(async |c| {
                let mut hold = store::hold(c, booking_number, true)
                    .await?
                    .ok_or_else(|| Error::HoldNotFound(booking_number.to_owned()))?;
                let screening =
                    store::screening(c, hold.screening_id).await?.ok_or(Error::ScreeningNotFound(hold.screening_id))?;
                match hold.status.as_str() {
                    "SOLD" => return Ok(Hold { row: hold, currency: screening.currency.clone(), screening }),
                    "RELEASED" => return Err(Error::HoldReleased(booking_number.to_owned())),
                    _ => {}
                }
                // Seats still ours, or free again since the hold expired: sell them.
                let locked = store::lock_seats(c, hold.screening_id, &hold.seat_ids).await?;
                let now = Utc::now();
                let ours = |s: &SeatRow| s.booking_number.as_deref() == Some(booking_number) && s.status == "HELD";
                if let Some(lost) = locked.iter().find(|s| !ours(s) && !is_free(s, now)) {
                    return Err(Error::HoldExpired {
                        booking_number: booking_number.to_owned(),
                        seat_id: lost.seat_id.clone(),
                    });
                }
                store::sell_seats(c, hold.screening_id, &hold.seat_ids, booking_number).await?;
                store::set_hold_status(c, booking_number, "SOLD").await?;
                hold.status = "SOLD".into();
                let event = SeatsSold {
                    screening_id: hold.screening_id.to_string(),
                    booking_number: booking_number.to_owned(),
                    seat_ids: hold.seat_ids.clone(),
                };
                enqueue(c, topics::SEATS_SOLD, booking_number, 2, &event, correlation_id).await?;
                Ok(Hold { row: hold, currency: screening.currency.clone(), screening })
            })
            .await?;
        self.relay.wake();
        tracing::info!(message = "Seats sold.", %booking_number, seats = hold.row.seat_ids.len());
        Ok(hold)
    }

    /// Frees whatever the booking holds or bought. Releasing nothing is fine.
    pub async fn release(&self, booking_number: &str, correlation_id: &str) -> Result<Vec<String>, Error> {
        let freed = get(&self.pool)
            .await?
            .transaction::<_, Error, _>(async |c| {
                let Some(hold) = store::hold(c, booking_number, true).await? else {
                    return Ok(Vec::new());
                };
                if hold.status == "RELEASED" {
                    return Ok(Vec::new());
                }
                let freed = store::free_seats(c, booking_number).await?;
                store::set_hold_status(c, booking_number, "RELEASED").await?;
                let event = SeatsReleased {
                    screening_id: hold.screening_id.to_string(),
                    booking_number: booking_number.to_owned(),
                    seat_ids: freed.clone(),
                };
                enqueue(c, topics::SEATS_RELEASED, booking_number, 3, &event, correlation_id).await?;
                Ok(freed)
            })
            .await?;
        self.relay.wake();
        tracing::info!(message = "Seats released.", %booking_number, seats = freed.len());
        Ok(freed)
    }

    /// Releases up to `batch` holds that expired (EXPIRED, seats AVAILABLE, a
    /// SeatsReleased event each); returns how many. Several sweepers may run.
    pub async fn sweep(&self, batch: i64) -> Result<usize, Error> {
        let swept = get(&self.pool)
            .await?
            .transaction::<_, Error, _>(async |c| {
                let expired = store::lock_expired_holds(c, batch).await?;
                for hold in &expired {
                    let freed = store::free_held_seats(c, &hold.booking_number).await?;
                    store::set_hold_status(c, &hold.booking_number, "EXPIRED").await?;
                    let event = SeatsReleased {
                        screening_id: hold.screening_id.to_string(),
                        booking_number: hold.booking_number.clone(),
                        seat_ids: freed,
                    };
                    enqueue(c, topics::SEATS_RELEASED, &hold.booking_number, 3, &event, &hold.booking_number).await?;
                }
                Ok(expired.len())
            })
            .await?;
        if swept > 0 {
            self.relay.wake();
            tracing::info!(message = "Expired holds released.", holds = swept);
        }
        Ok(swept)
    }

    /// Sweeps expired holds every `interval` until `shutdown`.
    pub async fn run_sweeper(self, interval: std::time::Duration, shutdown: cinema_mesh::Shutdown) {
        const BATCH: i64 = 100;
        loop {
            match self.sweep(BATCH).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(message = "Hold sweep failed.", error = %error),
            }
            if let Ok(active) = self.active_holds().await {
                metrics::gauge!(cinema_mesh::metrics::ACTIVE_HOLDS).set(active as f64);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Holds still HELD and not yet expired.
    async fn active_holds(&self) -> anyhow::Result<i64> {
        let mut conn = get(&self.pool).await?;
        Ok(store::active_holds(&mut conn).await?)
    }

    /// Builds a screening's inventory from ScreeningScheduled (idempotent).
    pub async fn on_event(&self, envelope: Envelope) -> anyhow::Result<()> {
        if envelope.event_type != topics::SCREENING_SCHEDULED.event_type {
            return Ok(());
        }
        let event = ScreeningScheduled::decode(envelope.payload.as_slice())?;
        let screening = ScreeningRow {
            screening_id: event.screening_id.parse()?,
            movie_title: event.movie_title,
            screen_name: event.screen_name,
            starts_at: event
                .starts_at
                .as_ref()
                .and_then(cinema_mesh::time::from_proto)
                .ok_or_else(|| anyhow::anyhow!("screening without a start"))?,
            currency: event.currency,
        };
        let seats: Vec<(String, String, i32, i64)> = event
            .seats
            .into_iter()
            .filter_map(|s| {
                let (row, number) = s.seat_id.split_once('-')?;
                Some((s.seat_id.clone(), row.to_owned(), number.parse().ok()?, s.amount))
            })
            .collect();
        let mut conn = get(&self.pool).await?;
        conn.transaction::<_, anyhow::Error, _>(async |c| {
            if cinema_mesh::inbox::first_time(c, CONSUMER, &envelope.event_id).await? {
                store::insert_screening(c, &screening, &seats).await?;
            }
            Ok(())
        })
        .await?;
        tracing::info!(message = "Seat inventory ready.", screening_id = %screening.screening_id, seats = seats.len());
        Ok(())
    }
}

/// Free: available, or held by a hold that has expired.
fn is_free(seat: &SeatRow, now: DateTime<Utc>) -> bool {
    match seat.status.as_str() {
        "AVAILABLE" => true,
        "HELD" => seat.hold_expires_at.is_some_and(|t| t <= now),
        _ => false,
    }
}

async fn enqueue<M: Message>(
    c: &mut AsyncPgConnection,
    topic: cinema_proto::topics::Topic,
    booking_number: &str,
    version: u64,
    payload: &M,
    correlation_id: &str,
) -> anyhow::Result<()> {
    outbox::enqueue(
        c,
        Event {
            topic,
            aggregate_id: booking_number,
            aggregate_version: version,
            payload,
            correlation_id,
            causation_id: correlation_id,
        },
    )
    .await
    .map(drop)
}
