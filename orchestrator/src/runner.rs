//! The saga runner: does the I/O the pure table asks for.
//!
//! It runs the current state's step against its participant with the
//! idempotency key `{booking_number}/{step}`, classifies the answer once
//! (business "no" → the table's Refused; transient → retry with exponential
//! backoff and jitter; bug → a few retries, then Refused), and persists the new
//! state together with the step's history row in one transaction. Whoever
//! holds a saga's lease drives it; the background loop claims sagas whose
//! lease expired (a crashed replica) or whose retry is due.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use cinema_mesh::breaker::Breaker;
use cinema_mesh::correlation;
use cinema_mesh::store::{Pool, get};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::payment::v1::{self as payment, payment_service_client::PaymentServiceClient};
use cinema_proto::reservation::v1::{self as reservation, reservation_service_client::ReservationServiceClient};
use cinema_proto::seats::v1::{self as seats, seat_inventory_service_client::SeatInventoryServiceClient};
use diesel_async::AsyncConnection;
use tokio::sync::Notify;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::Instrument as _;

use crate::saga::{Outcome, State, Step};
use crate::store::{self, SagaRow, StepRecord};

/// How a participant's error is treated (design.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The participant said no: compensate.
    Business,
    /// Try again later.
    Transient,
    /// A participant bug: retry a few times, then compensate and alert.
    Bug,
}

impl Class {
    /// The outcome of a retried attempt in the saga history.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Business => "refused",
            Class::Transient => "transient",
            Class::Bug => "bug",
        }
    }
}

pub fn classify(code: Code) -> Class {
    match code {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::FailedPrecondition | Code::OutOfRange => {
            Class::Business
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted | Code::Cancelled => {
            Class::Transient
        }
        _ => Class::Bug,
    }
}

/// The clients of the saga's participants.
#[derive(Clone)]
pub struct Participants {
    pub seats: SeatInventoryServiceClient<Channel>,
    pub payment: PaymentServiceClient<Channel>,
    pub reservation: ReservationServiceClient<Channel>,
    /// Guards every call to payment: while open, payment is not called.
    pub payment_breaker: Breaker,
}

/// How often the sagas-by-state gauge is refreshed.
const SAGAS_SAMPLE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct Options {
    /// How long a runner owns a saga before another may take it over.
    pub lease: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Retries of a participant bug (Internal, Unknown) before compensating.
    pub bug_retries: i32,
    /// How long a booking may keep retrying its forward steps before it is
    /// compensated. Compensations are retried for ever.
    pub saga_timeout: Duration,
    /// A test hook: hang at a step boundary so a test can `kill -9` the
    /// process exactly there. `None` in production.
    pub failpoint: Option<Failpoint>,
    /// Names this replica in the saga history.
    pub runner_id: String,
}

/// Where a [`Failpoint`] hangs, relative to its state's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The previous transition is stored; the step was not called (HoldSeats may
    /// have been: it runs beside CreateReservation).
    Before,
    /// The participant answered; the answer is not stored (a crash mid-step).
    After,
}

/// `before:CHARGING` or `after:CHARGING` (a state name of [`State::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failpoint {
    pub phase: Phase,
    pub state: State,
}

impl std::str::FromStr for Failpoint {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || format!("failpoint {raw:?}: expected before:<STATE> or after:<STATE>");
        let (phase, state) = raw.split_once(':').ok_or_else(bad)?;
        let phase = match phase {
            "before" => Phase::Before,
            "after" => Phase::After,
            _ => return Err(bad()),
        };
        let state = State::parse(state).filter(|s| !s.is_terminal()).ok_or_else(bad)?;
        Ok(Self { phase, state })
    }
}

#[derive(Clone)]
pub struct Runner {
    pool: Pool,
    participants: Participants,
    options: Options,
    signals: Arc<Signals>,
}

/// How operator calls reach the runners of this process (RetryNow,
/// ForceCompensate). Runners of other replicas see the database only: they
/// claim a saga made due within their poll interval.
#[derive(Default)]
struct Signals {
    /// Wakes the background loop: a saga is due now.
    due: Notify,
    /// Runners sleeping a backoff in this process, by booking number.
    sleeping: Mutex<HashMap<String, Arc<Notify>>>,
    /// Sagas whose runner gives its lease up at the next step boundary.
    yielding: Mutex<HashSet<String>>,
}

/// While alive, a runner of this process gives the saga's lease up at its next
/// step boundary (and the background loop's claims of it are given up at once).
pub struct YieldGuard {
    signals: Arc<Signals>,
    booking_number: String,
}

impl Drop for YieldGuard {
    fn drop(&mut self) {
        self.signals.yielding.lock().expect("not poisoned").remove(&self.booking_number);
    }
}

/// A step's answer, after classification.
enum Answer {
    Done,
    Refused(String),
    /// Payment is unavailable: keep the hold, try later.
    Deferred(String),
    /// The hold expired before payment.
    Expired(String),
    Retry {
        class: Class,
        detail: String,
    },
}

impl Runner {
    pub fn new(pool: Pool, participants: Participants, options: Options) -> Self {
        Self { pool, participants, options, signals: Arc::default() }
    }

    /// How long a claim lasts.
    pub fn lease(&self) -> Duration {
        self.options.lease
    }

    /// RetryNow: a runner of this process sleeping a backoff for this saga runs
    /// its step at once, and the background loop claims due sagas now.
    pub fn retry_now(&self, booking_number: &str) {
        self.wake_sleeper(booking_number);
        self.signals.due.notify_one();
    }

    /// Asks a runner of this process that drives the saga to give its lease up
    /// at its next step boundary, until the guard is dropped.
    pub fn ask_to_yield(&self, booking_number: &str) -> YieldGuard {
        self.signals.yielding.lock().expect("not poisoned").insert(booking_number.to_owned());
        self.wake_sleeper(booking_number);
        YieldGuard { signals: self.signals.clone(), booking_number: booking_number.to_owned() }
    }

    fn wake_sleeper(&self, booking_number: &str) {
        if let Some(sleeper) = self.signals.sleeping.lock().expect("not poisoned").get(booking_number) {
            sleeper.notify_one();
        }
    }

    fn asked_to_yield(&self, booking_number: &str) -> bool {
        self.signals.yielding.lock().expect("not poisoned").contains(booking_number)
    }

    /// Sleeps a backoff, cut short by [`Runner::retry_now`] or [`Runner::ask_to_yield`].
    async fn sleep(&self, backoff: Duration, booking_number: &str) {
        let wake = Arc::new(Notify::new());
        self.signals.sleeping.lock().expect("not poisoned").insert(booking_number.to_owned(), wake.clone());
        if !self.asked_to_yield(booking_number) {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = wake.notified() => {}
            }
        }
        self.signals.sleeping.lock().expect("not poisoned").remove(booking_number);
    }

    pub fn lease_until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.options.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Drives a saga whose lease the caller holds, until it is terminal or
    /// `deadline` passes (then the lease is given up and the retry scheduled).
    /// When another runner took the lease over meanwhile, stops and returns the
    /// saga as stored.
    pub async fn drive(&self, mut saga: SagaRow, deadline: tokio::time::Instant) -> anyhow::Result<SagaRow> {
        // HoldSeats's answer, when it ran beside CreateReservation: the next step's.
        let mut held: Option<(chrono::DateTime<Utc>, Held)> = None;
        loop {
            let state = State::parse(&saga.state).with_context(|| format!("unknown saga state {}", saga.state))?;
            let Some(step) = state.step() else {
                let mut conn = get(&self.pool).await?;
                store::release(&mut conn, &saga).await?;
                return Ok(saga);
            };
            if self.asked_to_yield(&saga.booking_number) {
                tracing::info!(message = "Giving the lease up to an operator.", booking_number = %saga.booking_number);
                let mut conn = get(&self.pool).await?;
                store::release(&mut conn, &saga).await?;
                drop(conn);
                return self.reread(saga).await;
            }
            self.failpoint(Phase::Before, state, &saga).await;
            let (started_at, answer) = match (step, held.take()) {
                (Step::HoldSeats, Some((started_at, hold))) => (started_at, classified(learn_hold(hold, &mut saga))),
                // Neither needs the other: the seats are held while the reservation is
                // created, and that answer is recorded as the next step's. The table sends
                // a refused or aborted CreateReservation through Releasing for it.
                (Step::CreateReservation, _) => {
                    let started_at = Utc::now();
                    let hold = self.hold_seats(&saga);
                    let (answer, hold) = tokio::join!(self.run_step(step, &mut saga), hold);
                    held = Some((started_at, hold));
                    (started_at, answer)
                }
                _ => (Utc::now(), self.run_step(step, &mut saga).await),
            };
            self.failpoint(Phase::After, state, &saga).await;
            let attempt = saga.attempts + 1;
            // `None`: retry this step after the backoff.
            let (outcome, detail, result) = match answer {
                Answer::Done => ("done", String::new(), Some(Outcome::Done)),
                Answer::Refused(reason) => ("refused", reason, Some(Outcome::Refused)),
                Answer::Expired(reason) => ("expired", reason, Some(Outcome::Expired)),
                // Still unavailable while awaiting payment: try again later (not inline).
                Answer::Deferred(detail) if state == State::AwaitingPayment => ("deferred", detail, None),
                Answer::Deferred(detail) => ("deferred", detail, Some(Outcome::Deferred)),
                Answer::Retry { class, detail } if class == Class::Bug && attempt > self.options.bug_retries => {
                    tracing::error!(message = "Participant keeps failing; compensating.", booking_number = %saga.booking_number, step = step.as_str(), %detail);
                    ("bug", format!("internal error during {}", step.as_str()), Some(Outcome::Refused))
                }
                Answer::Retry { detail, .. } if state.is_forward() && self.timed_out(&saga) => {
                    tracing::warn!(message = "Saga timed out; compensating.", booking_number = %saga.booking_number, step = step.as_str(), %detail);
                    let timeout = self.options.saga_timeout.as_secs();
                    ("refused", format!("gave up after {timeout} s: {detail}"), Some(Outcome::Refused))
                }
                Answer::Retry { class, detail } => (class.as_str(), detail, None),
            };
            let next = result.map(|result| state.next(result));
            metrics::counter!(cinema_mesh::metrics::SAGA_STEPS, "step" => step.as_str(), "outcome" => outcome)
                .increment(1);
            let took = (Utc::now() - started_at).to_std().unwrap_or_default();
            metrics::histogram!(cinema_mesh::metrics::SAGA_STEP_DURATION, "step" => step.as_str())
                .record(took.as_secs_f64());
            let record = StepRecord {
                state: state.as_str(),
                step: step.as_str(),
                attempt,
                outcome,
                detail: &detail,
                started_at,
                runner: &self.options.runner_id,
                correlation_id: &saga.correlation_id,
                lease_token: saga.lease_token,
                next_state: next.map(State::as_str),
            };
            let kept = match result {
                Some(result) => {
                    match result {
                        Outcome::Refused if saga.reason.is_empty() => saga.reason = detail.clone(),
                        Outcome::Deferred => saga.reason = awaiting_reason(&saga),
                        Outcome::Expired => saga.reason = detail.clone(),
                        Outcome::Done if state == State::AwaitingPayment => saga.reason.clear(),
                        _ => {}
                    }
                    let next = state.next(result);
                    saga.state = next.as_str().into();
                    saga.attempts = 0;
                    let lease = (!next.is_terminal()).then(|| self.lease_until());
                    tracing::info!(message = "Saga step finished.", booking_number = %saga.booking_number, step = step.as_str(), outcome, next = next.as_str());
                    // What must be on disk before the saga goes on: a final state (the
                    // customer is told it), what Charge learned (a refund needs the payment
                    // id), and every refusal. Any other step done may be lost by a Postgres
                    // crash: the saga then resumes from the state before it and runs the
                    // step again, idempotent on its key, to the same answer.
                    let flush = next.is_terminal() || step == Step::Charge || result != Outcome::Done;
                    let kept = self.persist(&saga, record, Utc::now(), lease, flush).await?;
                    if kept && next.is_terminal() {
                        // Stored with the lease given up: nothing left to release.
                        return Ok(saga);
                    }
                    kept
                }
                None => {
                    saga.attempts = attempt;
                    let mut backoff = self.backoff(attempt);
                    if let Some(expiry) = saga.hold_expires_at.filter(|_| state == State::AwaitingPayment) {
                        // Wake up at the hold's expiry at the latest, to expire the booking on time.
                        let left = (expiry - Utc::now()).to_std().unwrap_or_default();
                        backoff = backoff.min(left + Duration::from_millis(10));
                    }
                    tracing::warn!(message = "Saga step failed; will retry.", booking_number = %saga.booking_number, step = step.as_str(), attempt, %detail, backoff_ms = backoff.as_millis() as u64);
                    let awaiting = state == State::AwaitingPayment;
                    if awaiting || tokio::time::Instant::now() + backoff > deadline {
                        let next_run = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                        let kept = self.persist(&saga, record, next_run, None, true).await?;
                        return if kept { Ok(saga) } else { self.reread(saga).await };
                    }
                    let kept = self.persist(&saga, record, Utc::now(), Some(self.lease_until()), true).await?;
                    if kept {
                        self.sleep(backoff, &saga.booking_number).await;
                    }
                    kept
                }
            };
            if !kept {
                tracing::warn!(message = "Lease lost to another runner; stopping.", booking_number = %saga.booking_number);
                return self.reread(saga).await;
            }
        }
    }

    /// Whether a booking has retried its forward steps for too long.
    fn timed_out(&self, saga: &SagaRow) -> bool {
        let timeout = chrono::Duration::from_std(self.options.saga_timeout).unwrap_or(chrono::Duration::MAX);
        Utc::now() - saga.created_at > timeout
    }

    /// Hangs here for ever when the test hook says so.
    async fn failpoint(&self, phase: Phase, state: State, saga: &SagaRow) {
        if self.options.failpoint == Some(Failpoint { phase, state }) {
            tracing::warn!(message = "Failpoint reached; hanging.", booking_number = %saga.booking_number, ?phase, state = state.as_str());
            std::future::pending::<()>().await;
        }
    }

    /// The saga as stored now (after its lease was lost).
    async fn reread(&self, saga: SagaRow) -> anyhow::Result<SagaRow> {
        let mut conn = get(&self.pool).await?;
        Ok(store::by_number(&mut conn, &saga.booking_number).await?.unwrap_or(saga))
    }

    /// Claims due sagas and drives them, until `shutdown`.
    pub async fn run_background(self, shutdown: cinema_mesh::Shutdown) {
        let mut sampled = tokio::time::Instant::now() - SAGAS_SAMPLE;
        // A round claims (one query), spawns and waits at most 250 ms: a minute
        // of silence is a hang, and liveness says so.
        let heartbeat = cinema_mesh::watchdog::heartbeat("saga runner", Duration::from_secs(60));
        while !shutdown.is_cancelled() {
            heartbeat.beat();
            if sampled.elapsed() >= SAGAS_SAMPLE {
                sampled = tokio::time::Instant::now();
                self.sample_sagas().await;
            }
            match self.claim_due().await {
                Ok(sagas) => {
                    for saga in sagas {
                        let runner = self.clone();
                        // Continues the booking's trace (the BookTickets call's).
                        let span = tracing::info_span!(
                            "saga",
                            otel.name = "saga resume",
                            booking_number = %saga.booking_number,
                            correlation_id = %saga.correlation_id,
                        );
                        cinema_mesh::telemetry::set_parent(&span, Some(saga.traceparent.as_str()));
                        tokio::spawn(async move {
                            let deadline = tokio::time::Instant::now() + runner.options.lease / 2;
                            let number = saga.booking_number.clone();
                            if let Err(error) = runner.drive(saga, deadline).await {
                                tracing::error!(message = "Saga run failed.", booking_number = %number, error = format!("{error:#}"));
                            }
                        }.instrument(span));
                    }
                }
                Err(error) => tracing::warn!(message = "Could not claim sagas.", error = format!("{error:#}")),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = self.signals.due.notified() => {}
            }
        }
    }

    /// Sets the gauge of unfinished sagas by state (a state that emptied reads 0).
    async fn sample_sagas(&self) {
        let counts: anyhow::Result<_> = async {
            let mut conn = get(&self.pool).await?;
            Ok(store::unfinished_by_state(&mut conn).await?)
        }
        .await;
        match counts {
            Ok(counts) => {
                for state in crate::saga::ALL.into_iter().filter(|s| !s.is_terminal()) {
                    let n = counts.iter().find(|(s, _)| s == state.as_str()).map_or(0, |(_, n)| *n);
                    metrics::gauge!(cinema_mesh::metrics::SAGAS, "state" => state.as_str()).set(n as f64);
                }
            }
            Err(error) => tracing::debug!(message = "Could not count sagas.", error = format!("{error:#}")),
        }
    }

    async fn claim_due(&self) -> anyhow::Result<Vec<SagaRow>> {
        let mut conn = get(&self.pool).await?;
        Ok(store::claim_due(&mut conn, 16, self.lease_until()).await?)
    }

    /// Stores the saga and its history row in one statement; `false` (and
    /// nothing stored) when the lease was taken over. `flush: false` commits without
    /// waiting for the disk (visible at once, durable within Postgres's WAL writer delay
    /// or at the next flushed commit, whichever is first); a Postgres crash may lose it.
    async fn persist(
        &self,
        saga: &SagaRow,
        record: StepRecord<'_>,
        next_run_at: chrono::DateTime<Utc>,
        lease: Option<chrono::DateTime<Utc>>,
        flush: bool,
    ) -> anyhow::Result<bool> {
        let mut conn = get(&self.pool).await?;
        if flush {
            // One statement: its own transaction, and one round trip.
            return Ok(store::save_step(&mut conn, saga, next_run_at, lease, record).await?);
        }
        conn.transaction::<_, anyhow::Error, _>(async |c| {
            store::commit_without_flush(c).await?;
            Ok(store::save_step(c, saga, next_run_at, lease, record).await?)
        })
        .await
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let exp = self.options.backoff_base.saturating_mul(1u32 << attempt.clamp(0, 16));
        let capped = exp.min(self.options.backoff_cap);
        // Full jitter between half and all of it.
        let jitter = rand::random_range(0.5..=1.0);
        capped.mul_f64(jitter)
    }

    /// Runs one step and classifies its answer; learned facts go into `saga`.
    async fn run_step(&self, step: Step, saga: &mut SagaRow) -> Answer {
        let key = format!("{}/{}", saga.booking_number, step.as_str());
        let cid = saga.correlation_id.clone();
        let number = saga.booking_number.clone();
        let p = self.participants.clone();
        let result: Result<(), Status> = match step {
            Step::CreateReservation => {
                let request = reservation::CreateReservationRequest {
                    booking_number: number,
                    customer_id: saga.customer_id.clone(),
                    screening_id: saga.screening_id.to_string(),
                    seat_ids: saga.seat_ids.clone(),
                };
                p.reservation.clone().create_reservation(correlation::request(request, &cid)).await.map(drop)
            }
            Step::HoldSeats => {
                let hold = self.hold_seats(saga).await;
                learn_hold(hold, saga)
            }
            Step::Charge => {
                // A payment is tied to a live hold: never charge for seats that may be gone.
                if saga.hold_expires_at.is_some_and(|expiry| expiry <= Utc::now()) {
                    return Answer::Expired("the seat hold expired before payment".into());
                }
                let request = payment::ChargeRequest {
                    idempotency_key: key,
                    booking_number: number,
                    customer_id: saga.customer_id.clone(),
                    amount: Some(money(saga)),
                    card_token: saga.card_token.clone(),
                };
                let mut client = p.payment.clone();
                match p.payment_breaker.call(client.charge(correlation::request(request, &cid))).await {
                    Ok(response) => {
                        let payment = response.into_inner();
                        saga.payment_id = Some(payment.payment_id);
                        if payment.status == payment::PaymentStatus::Declined as i32 {
                            return Answer::Refused(format!("payment declined: {}", payment.decline_reason));
                        }
                        Ok(())
                    }
                    Err(status) if classify(status.code()) == Class::Transient => {
                        return Answer::Deferred(format!("{:?}: {}", status.code(), status.message()));
                    }
                    Err(status) => Err(status),
                }
            }
            Step::AwaitPayment => {
                let request = reservation::AwaitPaymentRequest { booking_number: number, reason: saga.reason.clone() };
                p.reservation.clone().await_payment(correlation::request(request, &cid)).await.map(drop)
            }
            Step::ExpireReservation => {
                let request = reservation::RejectReservationRequest {
                    booking_number: number,
                    status: BookingStatus::Expired.into(),
                    reason: saga.reason.clone(),
                };
                p.reservation.clone().reject_reservation(correlation::request(request, &cid)).await.map(drop)
            }
            Step::ConfirmSeats => {
                let request = seats::ConfirmSeatsRequest { booking_number: number };
                p.seats.clone().confirm_seats(correlation::request(request, &cid)).await.map(drop)
            }
            Step::ConfirmReservation => {
                let request = reservation::ConfirmReservationRequest {
                    booking_number: number,
                    payment_id: saga.payment_id.clone().unwrap_or_default(),
                    amount: Some(money(saga)),
                    movie_title: saga.movie_title.clone().unwrap_or_default(),
                    screen_name: saga.screen_name.clone().unwrap_or_default(),
                    starts_at: saga.starts_at.map(cinema_mesh::time::to_proto),
                };
                p.reservation.clone().confirm_reservation(correlation::request(request, &cid)).await.map(drop)
            }
            Step::Refund => match saga.payment_id.clone() {
                // Nothing was charged (or the charge was declined): nothing to refund.
                None => Ok(()),
                Some(payment_id) => {
                    let request =
                        payment::RefundRequest { idempotency_key: key, payment_id, reason: saga.reason.clone() };
                    let mut client = p.payment.clone();
                    p.payment_breaker.call(client.refund(correlation::request(request, &cid))).await.map(drop)
                }
            },
            Step::ReleaseSeats => {
                let request = seats::ReleaseSeatsRequest { booking_number: number };
                p.seats.clone().release_seats(correlation::request(request, &cid)).await.map(drop)
            }
            Step::RejectReservation => {
                let request = reservation::RejectReservationRequest {
                    booking_number: number,
                    status: BookingStatus::Rejected.into(),
                    reason: saga.reason.clone(),
                };
                p.reservation.clone().reject_reservation(correlation::request(request, &cid)).await.map(drop)
            }
            Step::BeginCancellation => {
                let request =
                    reservation::CancelReservationRequest { booking_number: number, reason: saga.reason.clone() };
                p.reservation.clone().begin_cancellation(correlation::request(request, &cid)).await.map(drop)
            }
            Step::CancelReservation => {
                let request =
                    reservation::CancelReservationRequest { booking_number: number, reason: saga.reason.clone() };
                p.reservation.clone().cancel_reservation(correlation::request(request, &cid)).await.map(drop)
            }
        };
        classified(result)
    }

    /// HoldSeats's call. It owns what it sends, so it can run beside another step.
    fn hold_seats(&self, saga: &SagaRow) -> impl Future<Output = Held> + use<> {
        let request = seats::HoldSeatsRequest {
            booking_number: saga.booking_number.clone(),
            screening_id: saga.screening_id.to_string(),
            seat_ids: saga.seat_ids.clone(),
        };
        let request = correlation::request(request, &saga.correlation_id);
        let mut seats = self.participants.seats.clone();
        async move { seats.hold_seats(request).await }
    }
}

/// What HoldSeats answered, as it came.
type Held = Result<tonic::Response<seats::SeatHold>, Status>;

/// Keeps what a hold says (price, expiry, what the ticket shows) in the saga.
fn learn_hold(hold: Held, saga: &mut SagaRow) -> Result<(), Status> {
    let hold = hold?.into_inner();
    let total = hold.total.unwrap_or_default();
    saga.currency = Some(total.currency);
    saga.amount = Some(total.amount);
    saga.hold_expires_at = hold.expires_at.as_ref().and_then(cinema_mesh::time::from_proto);
    saga.movie_title = Some(hold.movie_title);
    saga.screen_name = Some(hold.screen_name);
    saga.starts_at = hold.starts_at.as_ref().and_then(cinema_mesh::time::from_proto);
    Ok(())
}

/// A participant's answer, classified once.
fn classified(result: Result<(), Status>) -> Answer {
    match result {
        Ok(()) => Answer::Done,
        Err(status) => match classify(status.code()) {
            Class::Business => Answer::Refused(status.message().to_owned()),
            class => Answer::Retry { class, detail: format!("{:?}: {}", status.code(), status.message()) },
        },
    }
}

/// What a customer awaiting payment is told.
fn awaiting_reason(saga: &SagaRow) -> String {
    match saga.hold_expires_at {
        Some(expiry) => format!(
            "payment is unavailable right now; your seats stay held and payment is retried automatically until {}",
            expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => "payment is unavailable right now; payment is retried automatically".into(),
    }
}

fn money(saga: &SagaRow) -> Money {
    Money { currency: saga.currency.clone().unwrap_or_else(|| "KRW".into()), amount: saga.amount.unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_once() {
        for code in [Code::InvalidArgument, Code::NotFound, Code::AlreadyExists, Code::FailedPrecondition] {
            assert_eq!(classify(code), Class::Business, "{code:?}");
        }
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::ResourceExhausted, Code::Aborted, Code::Cancelled]
        {
            assert_eq!(classify(code), Class::Transient, "{code:?}");
        }
        for code in [Code::Internal, Code::Unknown, Code::DataLoss] {
            assert_eq!(classify(code), Class::Bug, "{code:?}");
        }
    }
}
