//! Chaos: faults injected into a running [`Stack`] under background load from
//! [`crate::load`], each step followed by healing, [`invariants::settle`] and
//! [`invariants::check`], and the promise: every saga is terminal within the hold TTL
//! + 30 s after healing, no booking answered CONFIRMED is lost, no seat is sold twice.
//!
//! - [`Chaos`]: a stack set up for faults ([`Settings`]: short hold TTL, lease and
//!   step deadline; an embedded Postgres the test owns; a second orchestrator replica
//!   that takes over the sagas of a paused one; the orchestrator's metrics).
//! - [`Fault`]: what can go wrong; [`Chaos::step`] runs faults one after another under
//!   one load and checks the promises; [`Outcome`] says what was measured.
//! - [`run_schedule`]: a seeded random schedule of faults on a fresh stack (behind
//!   `cargo xtask chaos --runs N --seed S`).
//!
//! Faults are held for fixed times (that is the fault); everything else waits by
//! polling with a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use crate::auth::AuthChannel;
use anyhow::{Context as _, Result, bail, ensure};
use cinema_proto::booking::v1::booking_service_client::BookingServiceClient;
use cinema_proto::booking::v1::{BookTicketsRequest, BookingResult, PaymentMethod};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::reservation::v1::{Booking, GetBookingRequest};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use tonic::Code;

use crate::invariants::{self, Limits, Report};
use crate::load::{self, Mode, Options, Summary};
use crate::stack::check_serving;
use crate::{DatabaseChoice, Service, Stack, StackOptions, free_port, poll_until};

/// One thing that goes wrong, held for the time its settings say, then healed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9`, then the harness starts it again.
    Kill(Service),
    /// Payment killed: the breaker opens, BookTickets answers AWAITING_PAYMENT at once;
    /// payment restarted: those bookings are CONFIRMED.
    PaymentDown,
    /// Seats stopped: BookTickets answers PENDING; seats back: CONFIRMED.
    SeatsStopped,
    /// NATS stopped and started: services keep serving, outboxes grow, then drain.
    NatsRestart,
    /// Postgres shut down in immediate mode, then started (crash recovery).
    PostgresRestart,
    /// The orchestrator SIGSTOPped longer than its lease (the replica takes its sagas
    /// over), then SIGCONTed (its stale writes change nothing).
    OrchestratorPaused,
    /// Payment answers slower than the orchestrator's step deadline.
    SlowPayment,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(service) => write!(f, "kill -9 {service}"),
            Fault::PaymentDown => f.write_str("payment down"),
            Fault::SeatsStopped => f.write_str("seats stopped"),
            Fault::NatsRestart => f.write_str("NATS restarted"),
            Fault::PostgresRestart => f.write_str("Postgres restarted (immediate)"),
            Fault::OrchestratorPaused => f.write_str("orchestrator paused"),
            Fault::SlowPayment => f.write_str("slow payment"),
        }
    }
}

impl Fault {
    /// Every kind of fault (each service once for [`Fault::Kill`]).
    pub fn all() -> Vec<Fault> {
        let mut all: Vec<Fault> = Service::ALL.iter().map(|s| Fault::Kill(*s)).collect();
        all.extend([
            Fault::PaymentDown,
            Fault::SeatsStopped,
            Fault::NatsRestart,
            Fault::PostgresRestart,
            Fault::OrchestratorPaused,
            Fault::SlowPayment,
        ]);
        all
    }

    /// About how long injecting and healing takes (sizes the background load).
    fn nominal(self, s: &Settings) -> Duration {
        match self {
            Fault::Kill(_) => Duration::from_secs(2),
            Fault::PaymentDown => s.payment_down + Duration::from_secs(3),
            Fault::SeatsStopped => s.seats_down + Duration::from_secs(1),
            Fault::NatsRestart => s.nats_down + Duration::from_secs(1),
            // Crash recovery takes 1 to 3.5 s here: the load must go on past it.
            Fault::PostgresRestart => s.postgres_down + Duration::from_secs(8),
            Fault::OrchestratorPaused => s.pause,
            Fault::SlowPayment => s.slow_for + Duration::from_secs(2),
        }
    }
}

/// How the chaos stack is configured and how long faults are held.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Background load, bookings a second (debug builds saturate near 13/s on 2 cores).
    pub rate: f64,
    /// Seats' hold TTL: the promise is "terminal within hold TTL + 30 s after healing".
    pub hold_ttl: Duration,
    /// The orchestrator's lease.
    pub lease: Duration,
    /// The orchestrator's deadline for one participant call.
    pub step_timeout: Duration,
    pub payment_down: Duration,
    pub seats_down: Duration,
    pub nats_down: Duration,
    pub postgres_down: Duration,
    /// How long the orchestrator stays SIGSTOPped (more than [`Settings::lease`]).
    pub pause: Duration,
    /// How long payment stays slower than [`Settings::step_timeout`].
    pub slow_for: Duration,
    /// Bookings sent one by one while payment is down (fallback latency).
    pub fallback_probes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate: 5.0,
            hold_ttl: Duration::from_secs(20),
            lease: Duration::from_secs(2),
            step_timeout: Duration::from_millis(1000),
            payment_down: Duration::from_secs(3),
            seats_down: Duration::from_secs(6),
            nats_down: Duration::from_secs(5),
            postgres_down: Duration::from_secs(2),
            pause: Duration::from_secs(5),
            slow_for: Duration::from_secs(4),
            fallback_probes: 20,
        }
    }
}

/// What one step measured. Durations are wall-clock on the test machine.
#[derive(Debug)]
pub struct Outcome {
    pub faults: Vec<Fault>,
    /// From the first fault to the end of healing.
    pub faulted_for: Duration,
    /// From the end of healing until every saga was terminal.
    pub settled_after_healing: Duration,
    pub load: Summary,
    pub report: Report,
    /// Named measurements (`breaker open`, `outbox drain`, ...).
    pub measured: BTreeMap<String, Duration>,
    /// Other observations (`max outbox backlog 37`).
    pub notes: Vec<String>,
}

impl Outcome {
    /// A few lines for a terminal.
    pub fn report(&self) -> String {
        let faults: Vec<String> = self.faults.iter().map(|f| f.to_string()).collect();
        let mut out = format!(
            "[chaos] {}: faulted {:.1?}, all terminal {:.1?} after healing; load: {} sent, answered {:?}, \
             errors {:?}; sagas {:?}\n",
            faults.join(", "),
            self.faulted_for,
            self.settled_after_healing,
            self.load.sent,
            self.load.by_answer,
            self.load.by_error,
            self.report.by_state,
        );
        for (name, took) in &self.measured {
            out += &format!("[chaos]   {name}: {took:.1?}\n");
        }
        for note in &self.notes {
            out += &format!("[chaos]   {note}\n");
        }
        out
    }
}

/// A stack for chaos, with the handles the faults need.
pub struct Chaos {
    pub stack: Stack,
    pub settings: Settings,
    metrics_url: String,
    replica: u16,
    screenings: usize,
    seed: u64,
}

impl Chaos {
    /// The stack options the faults rely on (see [`Settings`]).
    pub fn options(settings: &Settings) -> Result<(StackOptions, String)> {
        let metrics = format!("127.0.0.1:{}", free_port()?);
        let ms = |d: Duration| d.as_millis().to_string();
        let options = StackOptions {
            // Postgres is restarted by one fault: the stack owns it.
            database: DatabaseChoice::Embedded { port: None },
            ..StackOptions::for_tests()
        }
        .service_env(Service::Seats, "CINEMA_HOLD_TTL_SECS", &settings.hold_ttl.as_secs().to_string())
        .service_env(Service::Seats, "CINEMA_HOLD_SWEEP_INTERVAL_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", &settings.lease.as_secs().to_string())
        .service_env(Service::Orchestrator, "CINEMA_STEP_TIMEOUT_MS", &ms(settings.step_timeout))
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_PAYMENT_BREAKER_FAILURES", "3")
        .service_env(Service::Orchestrator, "CINEMA_PAYMENT_BREAKER_OPEN_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_METRICS_ADDR", &metrics);
        Ok((options, format!("http://{metrics}/metrics")))
    }

    /// Starts the stack and a second orchestrator replica.
    pub async fn start(settings: Settings, seed: u64) -> Result<Chaos> {
        let (options, metrics_url) = Self::options(&settings)?;
        let stack = Stack::start(options).await?;
        let replica = stack.add_replica(Service::Orchestrator, &[("CINEMA_METRICS_ADDR", "")]).await?;
        Ok(Chaos { stack, settings, metrics_url, replica, screenings: 0, seed })
    }

    pub async fn shutdown(self) -> Result<()> {
        self.stack.kill_replica(self.replica)?;
        self.stack.shutdown().await
    }

    /// Runs `faults` one after another under background load on a new screening,
    /// heals each, then checks the promises. Fails on any broken one.
    pub async fn step(&mut self, faults: &[Fault]) -> Result<Outcome> {
        // Two new screenings: one for the load, one for the faults' own probe bookings.
        // Their seat maps arrive through NATS: wait for them before any fault.
        let admin = self.stack.gateway_channel_as(Some(&self.stack.admin_token()))?;
        self.screenings += 2;
        let screening = load::create_screening(&admin, self.screenings).await?;
        let probes = load::create_screening(&admin, self.screenings + 1).await?;
        for id in [&screening, &probes] {
            poll_until("the seat map", Duration::from_secs(30), Duration::from_millis(50), || async {
                Ok(self.seat_map_exists(id).await?.then_some(()))
            })
            .await?;
        }
        self.seed = self.seed.wrapping_add(1);
        let load_for: Duration = faults.iter().map(|f| f.nominal(&self.settings)).sum();
        let options = Options {
            screenings: vec![screening],
            settle: Duration::ZERO,
            request_timeout: Duration::from_secs(8),
            max_in_flight: 64,
            seed: self.seed,
            ..self.stack.load_options(Mode::Open { rate: self.settings.rate }, load_for)?
        };
        let load = tokio::spawn(async move { load::run(&options).await });

        let mut measured = BTreeMap::new();
        let mut notes = Vec::new();
        let started = Instant::now();
        for fault in faults {
            self.inject(*fault, &probes, &mut measured, &mut notes).await.with_context(|| format!("fault: {fault}"))?;
        }
        let healed = Instant::now();
        let faulted_for = healed - started;

        let within = self.settings.hold_ttl + Duration::from_secs(30);
        invariants::settle(&self.stack, within)
            .await
            .with_context(|| format!("not every saga was terminal within {within:?} after healing"))?;
        let settled_after_healing = healed.elapsed();
        let load = load.await.context("the load task")??;
        // Bookings answered while the load ran past the healing settle too.
        invariants::settle(&self.stack, within).await?;
        let report = invariants::check(&self.stack, &Limits::default()).await?;
        self.promises_kept(&load).await?;
        Ok(Outcome { faults: faults.to_vec(), faulted_for, settled_after_healing, load, report, measured, notes })
    }

    /// Every answered booking exists and is terminal; every CONFIRMED answer stayed CONFIRMED.
    async fn promises_kept(&self, load: &Summary) -> Result<()> {
        let states = self.saga_states().await?;
        let mut lost = Vec::new();
        for number in &load.booking_numbers {
            match states.get(number).map(String::as_str) {
                Some("CONFIRMED" | "REJECTED" | "EXPIRED" | "CANCELLED") => {}
                Some(other) => lost.push(format!("{number} is {other}")),
                None => lost.push(format!("{number} was answered but has no saga")),
            }
        }
        for number in &load.answered_confirmed {
            if states.get(number).map(String::as_str) != Some("CONFIRMED") {
                lost.push(format!("{number} was answered CONFIRMED, is {:?}", states.get(number)));
            }
        }
        ensure!(lost.is_empty(), "bookings lost or unfinished:\n  {}", lost.join("\n  "));
        Ok(())
    }

    async fn inject(
        &self,
        fault: Fault,
        probes: &str,
        measured: &mut BTreeMap<String, Duration>,
        notes: &mut Vec<String>,
    ) -> Result<()> {
        let stack = &self.stack;
        let s = &self.settings;
        match fault {
            Fault::Kill(service) => {
                stack.kill(service)?;
                let killed = Instant::now();
                stack.restart(service).await?;
                measured.insert(format!("{service} back after kill -9"), killed.elapsed());
            }
            Fault::PaymentDown => {
                stack.kill(Service::Payment)?;
                let killed = Instant::now();
                poll_until(
                    "the payment breaker to open",
                    Duration::from_secs(20),
                    Duration::from_millis(20),
                    || async { Ok((self.breaker_state().await? == Some(2)).then_some(())) },
                )
                .await?;
                measured.insert("breaker open after payment kill -9".into(), killed.elapsed());
                let mut latencies = Vec::new();
                let mut numbers = Vec::new();
                let gateway = stack.gateway_channel()?;
                for n in 0..s.fallback_probes {
                    let seat = format!("{}-{}", (b'A' + (n / 12) as u8) as char, n % 12 + 1);
                    let started = Instant::now();
                    let answer = book(&gateway, probes, &seat).await?;
                    latencies.push(started.elapsed());
                    ensure!(
                        answer.status == BookingStatus::AwaitingPayment as i32
                            && answer.hold_expires_at.is_some()
                            && answer.reason.contains("retried automatically"),
                        "with the breaker open: {answer:?}"
                    );
                    numbers.push(answer.booking_number);
                }
                latencies.sort();
                measured.insert("fallback answer p50".into(), percentile(&latencies, 0.5));
                measured.insert("fallback answer p99".into(), percentile(&latencies, 0.99));
                let held = killed.elapsed();
                if held < s.payment_down {
                    // Holding the fault, not synchronizing.
                    tokio::time::sleep(s.payment_down - held).await;
                }
                let back = Instant::now();
                stack.restart(Service::Payment).await?;
                let numbers: BTreeSet<String> = numbers.into_iter().collect();
                poll_until("the fallback bookings to be CONFIRMED", s.hold_ttl, Duration::from_millis(50), || async {
                    let states = self.saga_states().await?;
                    let confirmed = numbers.iter().filter(|n| states.get(*n).is_some_and(|s| s == "CONFIRMED")).count();
                    let done = numbers.iter().filter(|n| states.get(*n).is_some_and(|s| terminal(s))).count();
                    if done == numbers.len() && confirmed < numbers.len() {
                        bail!("a fallback booking ended otherwise than CONFIRMED");
                    }
                    Ok((confirmed == numbers.len()).then_some(()))
                })
                .await?;
                measured.insert("recovered (payment restart -> fallback bookings CONFIRMED)".into(), back.elapsed());
                poll_until(
                    "the payment breaker to close",
                    Duration::from_secs(20),
                    Duration::from_millis(20),
                    || async { Ok((self.breaker_state().await? == Some(0)).then_some(())) },
                )
                .await?;
                measured.insert("breaker closed after payment restart".into(), back.elapsed());
            }
            Fault::SeatsStopped => {
                let gateway = stack.gateway_channel()?;
                stack.stop(Service::Seats)?;
                let stopped = Instant::now();
                let answer = book(&gateway, probes, "E-5").await?;
                ensure!(answer.status == BookingStatus::Pending as i32, "with seats down: {answer:?}");
                let held = stopped.elapsed();
                if held < s.seats_down {
                    tokio::time::sleep(s.seats_down - held).await;
                }
                let back = Instant::now();
                stack.restart(Service::Seats).await?;
                let number = answer.booking_number;
                self.ends_confirmed("the PENDING booking", &number).await?;
                measured.insert("PENDING -> CONFIRMED after seats restart".into(), back.elapsed());
            }
            Fault::NatsRestart => {
                stack.stop_nats()?;
                let stopped = Instant::now();
                // Bookings still work without the broker.
                let answer = book(&stack.gateway_channel()?, probes, "J-12").await?;
                ensure!(answer.status == BookingStatus::Confirmed as i32, "with NATS down: {answer:?}");
                let mut max_backlog = 0;
                while stopped.elapsed() < s.nats_down {
                    max_backlog = max_backlog.max(self.outbox_backlog().await?);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                ensure!(max_backlog > 0, "the outboxes did not grow while NATS was down");
                let back = Instant::now();
                stack.start_nats().await?;
                let restarted = back.elapsed();
                poll_until("the outboxes to drain", Duration::from_secs(60), Duration::from_millis(50), || async {
                    Ok((self.outbox_backlog().await? == 0).then_some(()))
                })
                .await?;
                measured.insert("outbox drain after NATS start".into(), back.elapsed());
                measured.insert("NATS start".into(), restarted);
                notes.push(format!("outbox backlog peaked at {max_backlog} events during {:?}", s.nats_down));
            }
            Fault::PostgresRestart => {
                let gateway = stack.gateway_channel()?;
                // A booking the view (NATS KV) holds before the outage.
                let before = book(&gateway, probes, "H-7").await?;
                ensure!(before.status == BookingStatus::Confirmed as i32, "before the outage: {before:?}");
                let known = before.booking_number;
                poll_until("the booking in the view", Duration::from_secs(10), Duration::from_millis(50), || async {
                    Ok(get_booking(&gateway, &known).await.ok())
                })
                .await?;
                // Stop it under a saga in flight, when the load has one open.
                let open = poll_until("a saga in flight", Duration::from_secs(5), Duration::from_millis(5), || async {
                    Ok(Some(self.open_sagas().await?).filter(|open| !open.is_empty()))
                })
                .await
                .unwrap_or_default();
                let stopped_at = chrono::Utc::now();
                stack.stop_postgres_immediate()?;
                let stopped = Instant::now();

                // A lost database is UNAVAILABLE (retry it), never INTERNAL: for a new
                // booking (the orchestrator's database) and for a booking the view lacks
                // (reservation's).
                let refused = booking_request(probes, "H-8");
                poll_until(
                    "BookTickets to answer UNAVAILABLE",
                    Duration::from_secs(20),
                    Duration::from_millis(50),
                    || {
                        let call = book_with(&gateway, refused.clone());
                        async move { unavailable("BookTickets", call.await.map(drop)) }
                    },
                )
                .await?;
                measured.insert("BookTickets UNAVAILABLE after Postgres stop".into(), stopped.elapsed());
                let unknown = unknown_booking_number();
                poll_until(
                    "GetBooking to answer UNAVAILABLE",
                    Duration::from_secs(20),
                    Duration::from_millis(50),
                    || {
                        let call = get_booking(&gateway, &unknown);
                        async move { unavailable("GetBooking", call.await.map(drop)) }
                    },
                )
                .await?;
                measured.insert("GetBooking UNAVAILABLE after Postgres stop".into(), stopped.elapsed());
                // The view keeps answering what it holds.
                let seen = get_booking(&gateway, &known).await.context("GetBooking from the view, Postgres down")?;
                ensure!(seen.status == BookingStatus::Confirmed as i32, "from the view: {seen:?}");

                let held = stopped.elapsed();
                if held < s.postgres_down {
                    // Holding the fault, not synchronizing.
                    tokio::time::sleep(s.postgres_down - held).await;
                }
                let back = Instant::now();
                stack.start_postgres().await?;
                measured.insert("Postgres start (crash recovery)".into(), back.elapsed());
                self.wait_all_serving().await?;
                measured.insert("every service SERVING after Postgres start".into(), back.elapsed());

                // The client retries what was refused (same request id): it is booked.
                let answer = poll_until(
                    "the refused booking, retried, to be answered",
                    Duration::from_secs(30),
                    Duration::from_millis(100),
                    || {
                        let call = book_with(&gateway, refused.clone());
                        async move {
                            match call.await {
                                Ok(answer) => Ok(Some(answer)),
                                Err(status) if status.code() == Code::Unavailable => Ok(None),
                                Err(status) => bail!("the retried booking: {status:?}"),
                            }
                        }
                    },
                )
                .await?;
                let number = answer.booking_number;
                self.ends_confirmed("the retried booking", &number).await?;
                measured.insert("retried booking CONFIRMED after Postgres start".into(), back.elapsed());

                // The sagas in flight when Postgres went, and those begun since, were
                // retried (transient), not compensated as a participant's bug.
                let touched: Vec<String> = self.saga_ends(&open, stopped_at).await?.into_keys().collect();
                let within = s.hold_ttl + Duration::from_secs(30);
                poll_until("the sagas of the outage to finish", within, Duration::from_millis(100), || async {
                    let states = self.saga_states().await?;
                    Ok(touched.iter().all(|n| states.get(n).is_some_and(|s| terminal(s))).then_some(()))
                })
                .await?;
                let ended = self.saga_ends(&touched, stopped_at).await?;
                let ended: Vec<_> = ended.iter().filter(|(n, _)| touched.contains(n)).collect();
                let bugs: Vec<String> = ended
                    .iter()
                    .filter(|(_, (_, reason))| reason.contains("internal error"))
                    .map(|(n, (state, reason))| format!("{n} {state}: {reason}"))
                    .collect();
                ensure!(bugs.is_empty(), "sagas of the outage ended as a bug:\n  {}", bugs.join("\n  "));
                let mut by_reason = BTreeMap::<String, usize>::new();
                for (_, (state, reason)) in &ended {
                    // Seat ids vary; the kind of reason is what matters.
                    let kind = reason.split(':').next().unwrap_or_default().trim();
                    *by_reason.entry(format!("{state} {kind}").trim().to_owned()).or_default() += 1;
                }
                notes.push(format!(
                    "{} sagas in flight at the stop, {} in all begun since: {by_reason:?}",
                    open.len(),
                    touched.len()
                ));
            }
            Fault::OrchestratorPaused => {
                // Freeze the runner while it drives a saga: wait for an open one, stop,
                // and look again (it may have finished in between; then go on and retry).
                let (open, paused) = poll_until(
                    "the orchestrator to freeze mid-saga",
                    Duration::from_secs(15),
                    Duration::from_millis(5),
                    || async {
                        if self.open_sagas().await?.is_empty() {
                            return Ok(None);
                        }
                        stack.pause(Service::Orchestrator, true)?;
                        let paused = Instant::now();
                        let open = self.open_sagas().await?;
                        if open.is_empty() {
                            stack.pause(Service::Orchestrator, false)?;
                            return Ok(None);
                        }
                        Ok(Some((open, paused)))
                    },
                )
                .await?;
                // The replica takes over what was open when the runner froze.
                let taken = poll_until(
                    "the replica to finish the paused runner's sagas",
                    s.lease + Duration::from_secs(10),
                    Duration::from_millis(50),
                    || async {
                        let states = self.saga_states().await?;
                        Ok(open.iter().all(|n| states.get(n).is_some_and(|s| terminal(s))).then_some(()))
                    },
                )
                .await;
                let took = paused.elapsed();
                if took < s.pause {
                    tokio::time::sleep(s.pause - took).await;
                }
                stack.pause(Service::Orchestrator, false)?;
                taken?;
                measured.insert(format!("{} open sagas taken over by the replica", open.len()), took);
                stack.wait_healthy(Service::Orchestrator).await?;
            }
            Fault::SlowPayment => {
                let latency = s.step_timeout + Duration::from_millis(500);
                stack.set_env(Service::Payment, "CINEMA_ACQUIRER_LATENCY_MS", &latency.as_millis().to_string())?;
                stack.restart(Service::Payment).await?;
                let slow = Instant::now();
                // A booking is answered (not left hanging on payment) and paid later.
                let started = Instant::now();
                let answer = book(&stack.gateway_channel()?, probes, "F-6").await?;
                measured.insert("answer while payment is slower than the step deadline".into(), started.elapsed());
                let answered = BookingStatus::try_from(answer.status).unwrap_or(BookingStatus::Unspecified);
                ensure!(
                    matches!(
                        answered,
                        BookingStatus::AwaitingPayment | BookingStatus::Pending | BookingStatus::Confirmed
                    ),
                    "with payment slow: {answer:?}"
                );
                notes.push(format!("a booking made while payment was slow was answered {}", answered.as_str_name()));
                let held = slow.elapsed();
                if held < s.slow_for {
                    tokio::time::sleep(s.slow_for - held).await;
                }
                let breaker = self.breaker_state().await?;
                notes.push(format!("breaker state after {:?} of slow payment: {breaker:?} (2 = open)", slow.elapsed()));
                // Calls that outlive the step deadline count against payment.
                ensure!(
                    breaker.is_some_and(|b| b >= 1),
                    "the breaker stayed closed while payment was slow: {breaker:?}"
                );
                stack.set_env(Service::Payment, "CINEMA_ACQUIRER_LATENCY_MS", "")?;
                stack.restart(Service::Payment).await?;
                let number = answer.booking_number;
                self.ends_confirmed("the slow-payment booking", &number).await?;
            }
        }
        Ok(())
    }

    /// `cinema_breaker_state{breaker="payment"}` of the first orchestrator (`None`: not
    /// published yet).
    async fn breaker_state(&self) -> Result<Option<u8>> {
        let Ok(response) = reqwest::Client::new().get(&self.metrics_url).timeout(Duration::from_secs(2)).send().await
        else {
            return Ok(None);
        };
        let text = response.text().await.unwrap_or_default();
        Ok(text
            .lines()
            .find(|l| l.starts_with("cinema_breaker_state") && l.contains("breaker=\"payment\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u8))
    }

    async fn saga_states(&self) -> Result<BTreeMap<String, String>> {
        saga_states(&self.stack).await
    }

    /// Waits (up to the hold's lifetime) for saga `number` to end; it must end CONFIRMED.
    async fn ends_confirmed(&self, what: &str, number: &str) -> Result<()> {
        let within = self.settings.hold_ttl;
        let state = poll_until(&format!("{what} to finish"), within, Duration::from_millis(50), || async {
            Ok(self.saga_states().await?.get(number).filter(|s| terminal(s)).cloned())
        })
        .await?;
        ensure!(state == "CONFIRMED", "{what} ({number}) ended {state}");
        Ok(())
    }

    /// The state and reason of each of `numbers` and of every saga created since `since`.
    async fn saga_ends(
        &self,
        numbers: &[String],
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<BTreeMap<String, (String, String)>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            booking_number: String,
            #[diesel(sql_type = Text)]
            state: String,
            #[diesel(sql_type = Text)]
            reason: String,
        }
        let mut conn = connect(&self.stack, Service::Orchestrator).await?;
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT booking_number, state, reason FROM sagas WHERE booking_number = ANY($1) OR created_at >= $2",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(numbers)
        .bind::<diesel::sql_types::Timestamptz, _>(since)
        .load(&mut conn)
        .await?;
        Ok(rows.into_iter().map(|r| (r.booking_number, (r.state, r.reason))).collect())
    }

    async fn open_sagas(&self) -> Result<Vec<String>> {
        Ok(self.saga_states().await?.into_iter().filter(|(_, s)| !terminal(s)).map(|(n, _)| n).collect())
    }

    async fn outbox_backlog(&self) -> Result<i64> {
        invariants::outbox_backlog(&self.stack).await
    }

    async fn seat_map_exists(&self, screening: &str) -> Result<bool> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = connect(&self.stack, Service::Seats).await?;
        let count: Count = diesel::sql_query("SELECT count(*) AS n FROM seats WHERE screening_id::text = $1")
            .bind::<Text, _>(screening)
            .get_result(&mut conn)
            .await
            .context("seats of a screening")?;
        Ok(count.n > 0)
    }

    async fn wait_all_serving(&self) -> Result<()> {
        for service in Service::ALL {
            let url = self.stack.grpc_url(service);
            poll_until(
                &format!("{service} to be SERVING"),
                Duration::from_secs(60),
                Duration::from_millis(100),
                || {
                    let url = url.clone();
                    async move { Ok(check_serving(&url).await.then_some(())) }
                },
            )
            .await
            .with_context(|| format!("the end of the {service} log:\n{}", self.stack.log_tail(service)))?;
        }
        Ok(())
    }
}

/// Runs one seeded random schedule of `steps` faults on a fresh stack; every step is
/// checked. The same seed draws the same schedule.
pub async fn run_schedule(seed: u64, steps: usize, settings: Settings) -> Result<Vec<Outcome>> {
    let schedule = draw_schedule(seed, steps);
    eprintln!("[chaos] seed {seed}: {}", schedule.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", "));
    let mut chaos = Chaos::start(settings, seed).await?;
    let mut outcomes = Vec::new();
    for fault in &schedule {
        match chaos.step(&[*fault]).await {
            Ok(outcome) => {
                eprint!("{}", outcome.report());
                outcomes.push(outcome);
            }
            Err(e) => {
                let _ = chaos.shutdown().await;
                return Err(e.context(format!("seed {seed}, step {} ({fault})", outcomes.len() + 1)));
            }
        }
    }
    chaos.shutdown().await?;
    Ok(outcomes)
}

/// `steps` faults drawn from [`Fault::all`] by `seed`.
pub fn draw_schedule(seed: u64, steps: usize) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let all = Fault::all();
    (0..steps)
        .map(|_| {
            // Kills are 7 of the 13; draw the kind first so each kind is equally likely.
            if rng.random_bool(1.0 / 7.0) {
                Fault::Kill(*Service::ALL.choose(&mut rng).unwrap_or(&Service::Seats))
            } else {
                *all[Service::ALL.len()..].choose(&mut rng).unwrap_or(&Fault::PaymentDown)
            }
        })
        .collect()
}

fn terminal(state: &str) -> bool {
    matches!(state, "CONFIRMED" | "REJECTED" | "EXPIRED" | "CANCELLED")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len().max(1) as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

/// Every saga's state, by booking number.
pub async fn saga_states(stack: &Stack) -> Result<BTreeMap<String, String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        booking_number: String,
        #[diesel(sql_type = Text)]
        state: String,
    }
    let mut conn = connect(stack, Service::Orchestrator).await?;
    let rows: Vec<Row> = diesel::sql_query("SELECT booking_number, state FROM sagas").load(&mut conn).await?;
    Ok(rows.into_iter().map(|r| (r.booking_number, r.state)).collect())
}

async fn connect(stack: &Stack, service: Service) -> Result<AsyncPgConnection> {
    AsyncPgConnection::establish(&stack.database_url(service))
        .await
        .with_context(|| format!("connecting to the {service} database"))
}

fn booking_request(screening: &str, seat: &str) -> BookTicketsRequest {
    BookTicketsRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer_id: String::new(),
        screening_id: screening.to_owned(),
        seat_ids: vec![seat.to_owned()],
        payment: Some(PaymentMethod { card_token: "tok_visa".into() }),
    }
}

async fn book(channel: &AuthChannel, screening: &str, seat: &str) -> Result<BookingResult> {
    let request = booking_request(screening, seat);
    let answer = BookingServiceClient::new(channel.clone()).book_tickets(request).await;
    Ok(answer.with_context(|| format!("BookTickets {screening} {seat}"))?.into_inner())
}

/// BookTickets as `request` says (its request id included).
fn book_with(
    channel: &AuthChannel,
    request: BookTicketsRequest,
) -> impl std::future::Future<Output = Result<BookingResult, tonic::Status>> + use<> {
    let mut client = BookingServiceClient::new(channel.clone());
    async move { Ok(client.book_tickets(request).await?.into_inner()) }
}

fn get_booking(
    channel: &AuthChannel,
    number: &str,
) -> impl std::future::Future<Output = Result<Booking, tonic::Status>> + use<> {
    let mut client = BookingQueryServiceClient::new(channel.clone());
    let request = GetBookingRequest { booking_number: number.to_owned(), min_version: 0 };
    async move { Ok(client.get_booking(request).await?.into_inner()) }
}

/// A well-formed booking number no booking has.
fn unknown_booking_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = uuid::Uuid::new_v4().as_u128();
    let code: String = (0..12).map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    format!("BK{code}")
}

/// A probe of a call made while the database is down: done at UNAVAILABLE, failed at
/// INTERNAL or an answer, polled again otherwise.
fn unavailable(what: &str, answer: Result<(), tonic::Status>) -> Result<Option<()>> {
    match answer {
        Err(status) if status.code() == Code::Unavailable => Ok(Some(())),
        Err(status) if status.code() == Code::Internal => {
            bail!("{what} answered INTERNAL with Postgres down: {status:?}")
        }
        Err(_) => Ok(None),
        Ok(()) => bail!("{what} answered with Postgres down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_schedule_and_every_kind_comes_up() {
        assert_eq!(draw_schedule(7, 20), draw_schedule(7, 20));
        assert_ne!(draw_schedule(7, 20), draw_schedule(8, 20));
        let many = draw_schedule(1, 400);
        for kind in Fault::all().into_iter().skip(Service::ALL.len()) {
            assert!(many.contains(&kind), "{kind} never drawn");
        }
        assert!(many.iter().any(|f| matches!(f, Fault::Kill(_))));
    }
}
