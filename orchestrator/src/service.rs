//! Use cases: book and cancel. Both persist the saga first, then drive it
//! inline until the deadline; the background runner finishes what is left.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cinema_mesh::store::{Pool, get};
use cinema_proto::seats::v1::{GetSeatMapRequest, seats_service_client::SeatsServiceClient};
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;

use crate::admission::Admission;
use crate::domain::{BookRequest, new_booking_number};
use crate::runner::Runner;
use crate::saga::State;
use crate::store::{self, SagaRow};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("screening {0} does not exist")]
    ScreeningNotFound(uuid::Uuid),
    #[error("seats {0} do not exist in this screening")]
    UnknownSeats(String),
    #[error("request id {0} was already used for a different booking")]
    RequestIdReused(String),
    #[error("screening {screening_id} is busy, retry in {} ms", retry_after.as_millis())]
    Busy { screening_id: uuid::Uuid, retry_after: Duration },
    #[error("booking {0} does not exist")]
    BookingNotFound(String),
    #[error("booking {number} is {status} and cannot be cancelled; only confirmed bookings can")]
    NotCancellable { number: String, status: String },
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
    runner: Runner,
    seat_map: SeatsServiceClient<Channel>,
    inline_deadline: Duration,
    admission: Admission,
    layouts: Layouts,
}

/// The seat ids of screenings seen so far. A screening's seats never change once it is
/// scheduled (its screen is fixed), so a booking checks its seats against this copy and
/// the seat map is read once per screening, not once per booking. Only screenings that
/// exist are kept; at most [`Layouts::CAPACITY`] of them (then it starts afresh).
#[derive(Clone, Default)]
struct Layouts(Arc<Mutex<HashMap<uuid::Uuid, Arc<HashSet<String>>>>>);

impl Layouts {
    const CAPACITY: usize = 4096;

    fn get(&self, screening_id: uuid::Uuid) -> Option<Arc<HashSet<String>>> {
        self.0.lock().expect("not poisoned").get(&screening_id).cloned()
    }

    fn put(&self, screening_id: uuid::Uuid, seats: HashSet<String>) -> Arc<HashSet<String>> {
        let seats = Arc::new(seats);
        let mut layouts = self.0.lock().expect("not poisoned");
        if layouts.len() >= Self::CAPACITY {
            layouts.clear();
        }
        layouts.insert(screening_id, seats.clone());
        seats
    }
}

impl Service {
    pub fn new(
        pool: Pool,
        runner: Runner,
        seat_map: SeatsServiceClient<Channel>,
        inline_deadline: Duration,
        admission: Admission,
    ) -> Self {
        Self { pool, runner, seat_map, inline_deadline, admission, layouts: Layouts::default() }
    }

    /// Books tickets; idempotent on the request id. A new booking must first pass
    /// its screening's admission control and the seat check. The saga row is inserted
    /// straight away (a repeat finds the request id taken); a repeat refused by either
    /// check still gets its booking's answer.
    pub async fn book(&self, request: BookRequest, correlation_id: &str) -> Result<SagaRow, Error> {
        let deadline = Instant::now() + self.inline_deadline;
        let screening_id = request.screening_id;
        let checked = match self.admission.admit(screening_id, std::time::Instant::now()) {
            Ok(()) => self.check_screening(&request).await,
            Err(retry_after) => Err(Error::Busy { screening_id, retry_after }),
        };
        if let Err(refused) = checked {
            let mut conn = get(&self.pool).await?;
            return match store::by_request(&mut conn, &request.request_id).await? {
                Some(existing) => {
                    drop(conn);
                    self.replay(existing, &request, deadline).await
                }
                None => Err(refused),
            };
        }
        let saga = SagaRow {
            booking_number: new_booking_number(),
            request_id: request.request_id.clone(),
            customer_id: request.customer_id.clone(),
            screening_id: request.screening_id,
            seat_ids: request.seat_ids.clone(),
            card_token: request.card_token.clone(),
            state: State::CreatingReservation.as_str().into(),
            reason: String::new(),
            currency: None,
            amount: None,
            payment_id: None,
            hold_expires_at: None,
            movie_title: None,
            screen_name: None,
            starts_at: None,
            correlation_id: correlation_id.to_owned(),
            attempts: 0,
            created_at: chrono::Utc::now(),
            lease_token: uuid::Uuid::new_v4(),
            traceparent: cinema_mesh::telemetry::current_traceparent().unwrap_or_default(),
        };
        let mut conn = get(&self.pool).await?;
        if !store::insert(&mut conn, &saga, self.runner.lease_until()).await? {
            // A repeat (or a concurrent duplicate that won the insert): answer what it answers.
            let existing = store::by_request(&mut conn, &request.request_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("request {} vanished after a conflict", request.request_id))?;
            drop(conn);
            return self.replay(existing, &request, deadline).await;
        }
        drop(conn);
        tracing::info!(message = "Booking accepted.", booking_number = %saga.booking_number, seats = saga.seat_ids.len());
        Ok(self.runner.drive(saga, deadline).await?)
    }

    /// Cancels a confirmed booking of `customer`: refund, release, cancel the
    /// reservation. A second cancel answers what the first one did. Someone else's
    /// booking is not found (its number leaks nothing).
    pub async fn cancel(&self, booking_number: &str, reason: &str, customer: &str) -> Result<SagaRow, Error> {
        let deadline = Instant::now() + self.inline_deadline;
        let reason = if reason.is_empty() { "cancelled by the customer" } else { reason };
        let mut conn = get(&self.pool).await?;
        let saga = store::by_number(&mut conn, booking_number)
            .await?
            .filter(|saga| saga.customer_id == customer)
            .ok_or_else(|| Error::BookingNotFound(booking_number.to_owned()))?;
        let state = State::parse(&saga.state).unwrap_or(State::CreatingReservation);
        if state.cancel().is_none() {
            return Err(Error::NotCancellable {
                number: booking_number.to_owned(),
                status: state.status().as_str_name().trim_start_matches("BOOKING_STATUS_").to_owned(),
            });
        }
        if state == State::Confirmed {
            // `false`: a concurrent cancel got there first; drive or wait for it below.
            store::begin_cancel(&mut conn, booking_number, reason).await?;
        }
        let claimed = store::claim(&mut conn, booking_number, self.runner.lease_until()).await?;
        drop(conn);
        match claimed {
            Some(saga) => Ok(self.runner.drive(saga, deadline).await?),
            None => self.wait(booking_number, deadline).await,
        }
    }

    /// The answer to a repeated request: the same booking, driven or awaited.
    async fn replay(&self, existing: SagaRow, request: &BookRequest, deadline: Instant) -> Result<SagaRow, Error> {
        let same = existing.customer_id == request.customer_id
            && existing.screening_id == request.screening_id
            && existing.seat_ids == request.seat_ids;
        if !same {
            return Err(Error::RequestIdReused(request.request_id.clone()));
        }
        let mut conn = get(&self.pool).await?;
        match store::claim(&mut conn, &existing.booking_number, self.runner.lease_until()).await? {
            Some(saga) => {
                drop(conn);
                Ok(self.runner.drive(saga, deadline).await?)
            }
            None => {
                drop(conn);
                self.wait(&existing.booking_number, deadline).await
            }
        }
    }

    /// Someone else drives the saga: watch it until it is terminal or the deadline.
    async fn wait(&self, booking_number: &str, deadline: Instant) -> Result<SagaRow, Error> {
        loop {
            let mut conn = get(&self.pool).await?;
            let saga = store::by_number(&mut conn, booking_number)
                .await?
                .ok_or_else(|| Error::BookingNotFound(booking_number.to_owned()))?;
            drop(conn);
            let terminal = State::parse(&saga.state).is_some_and(State::is_terminal);
            if terminal || Instant::now() >= deadline {
                return Ok(saga);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Refuses unknown screenings and seats before anything is written. When
    /// the seats service cannot answer, the booking is accepted anyway (it
    /// stays PENDING and the saga decides once seats are back).
    async fn check_screening(&self, request: &BookRequest) -> Result<(), Error> {
        let layout = match self.layouts.get(request.screening_id) {
            Some(layout) => layout,
            None => {
                let call = GetSeatMapRequest { screening_id: request.screening_id.to_string() };
                match self.seat_map.clone().get_seat_map(call).await {
                    Ok(map) => {
                        let seats: HashSet<String> = map.into_inner().seats.into_iter().map(|s| s.seat_id).collect();
                        if seats.is_empty() {
                            // Not laid out yet: check against it, keep nothing.
                            Arc::new(seats)
                        } else {
                            self.layouts.put(request.screening_id, seats)
                        }
                    }
                    Err(status) if status.code() == Code::NotFound => {
                        return Err(Error::ScreeningNotFound(request.screening_id));
                    }
                    Err(status) => {
                        tracing::warn!(message = "Seat map unavailable; accepting the booking unchecked.", code = ?status.code());
                        return Ok(());
                    }
                }
            }
        };
        let unknown: Vec<&str> =
            request.seat_ids.iter().filter(|id| !layout.contains(id.as_str())).map(String::as_str).collect();
        if unknown.is_empty() { Ok(()) } else { Err(Error::UnknownSeats(unknown.join(", "))) }
    }
}
