//! The load generator behind `cargo xtask load`, also run by the end-to-end
//! tests (and meant for the chaos suite and the benchmark).
//!
//! It books random free-looking seats of its own screenings through
//! BookingService/BookTickets, either
//! - open loop ([`Mode::Open`]): a call is due every `1 / rate` s whether or not
//!   the earlier ones answered; latency counts from when a call was *due*, so a
//!   stalled server shows up in the percentiles (no coordinated omission); or
//! - closed loop ([`Mode::Closed`]): N clients, each sending its next call when
//!   the last one answered.
//!
//! The [`Summary`] has an HDR histogram's percentiles, counts by the answered
//! and by the final booking status (non-terminal answers are followed with
//! GetBooking for up to [`Options::settle`]) and by gRPC error code; it
//! serializes to JSON.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use cinema_proto::booking::v1::booking_service_client::BookingServiceClient;
use cinema_proto::booking::v1::{BookTicketsRequest, PaymentMethod};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::reservation::v1::GetBookingRequest;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::screening::v1::screening_service_client::ScreeningServiceClient;
use cinema_proto::screening::v1::{MovieStatus, RegisterMovieRequest, ScheduleScreeningRequest};
use cinema_proto::seats::v1::GetSeatMapRequest;
use cinema_proto::seats::v1::seats_service_client::SeatsServiceClient;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Endpoint;

use crate::auth::{AuthChannel, Caller};

use crate::poll_until;

/// How calls are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// `rate` calls a second, each due at its time whatever the others do.
    Open { rate: f64 },
    /// `clients` callers, each waiting for its answer before the next call.
    Closed { clients: usize },
}

/// What to run. [`Options::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where BookTickets goes: the Envoy gateway or the orchestrator itself.
    pub booking_url: String,
    /// Where the screening, seat map and booking lookups go (public services:
    /// the gateway). Defaults to `booking_url`.
    pub admin_url: String,
    pub mode: Mode,
    /// How long calls are sent for.
    pub duration: Duration,
    /// Screenings to book; empty: create `new_screenings` of them first.
    pub screenings: Vec<String>,
    pub new_screenings: usize,
    /// Seats per booking, drawn uniformly from this range.
    pub min_seats: usize,
    pub max_seats: usize,
    /// `tok_visa` pays; `tok_decline` is declined.
    pub card_token: String,
    /// A call without an answer by then counts as DEADLINE_EXCEEDED.
    pub request_timeout: Duration,
    /// Open loop: calls in flight at most; a due call beyond it is skipped
    /// (and counted) rather than queued.
    pub max_in_flight: usize,
    /// How long to follow non-terminal answers (PENDING, AWAITING_PAYMENT) to
    /// their final status; zero: do not.
    pub settle: Duration,
    /// HTTP/2 connections the calls are spread over.
    pub connections: usize,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
    /// Seeds the seat choice (a run is repeatable up to timing).
    pub seed: u64,
    /// Who books and looks bookings up: a customer's bearer token through the gateway
    /// (see [`crate::Stack::customer_token`]), or the forwarded identity straight to
    /// the orchestrator.
    pub customer: Caller,
    /// Who registers the movies and schedules the screenings it creates (`admin`).
    pub admin: Caller,
}

impl Options {
    pub fn new(url: impl Into<String>, mode: Mode, duration: Duration) -> Self {
        let url = url.into();
        Self {
            booking_url: url.clone(),
            admin_url: url,
            mode,
            duration,
            screenings: Vec::new(),
            new_screenings: 1,
            min_seats: 1,
            max_seats: 2,
            card_token: "tok_visa".to_owned(),
            request_timeout: Duration::from_secs(10),
            max_in_flight: 1024,
            settle: Duration::from_secs(30),
            connections: 4,
            progress: false,
            seed: 0x00c1_4e3a,
            customer: Caller::bearer(None).expect("no token is valid"),
            admin: Caller::bearer(None).expect("no token is valid"),
        }
    }

    fn check(&self) -> Result<()> {
        match self.mode {
            Mode::Open { rate } => ensure!(rate.is_finite() && rate > 0.0, "--rate must be a positive number"),
            Mode::Closed { clients } => ensure!(clients > 0, "--clients must be at least 1"),
        }
        ensure!(!self.duration.is_zero(), "--duration must be positive");
        ensure!(self.min_seats >= 1 && self.min_seats <= self.max_seats, "seats per booking: 1 <= min <= max");
        ensure!(!self.screenings.is_empty() || self.new_screenings > 0, "no screening to book");
        ensure!(self.connections > 0 && self.max_in_flight > 0, "connections and max_in_flight must be positive");
        Ok(())
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// The percentiles of a histogram of microseconds.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            mean: histogram.mean() / 1000.0,
            p50: ms(histogram.value_at_quantile(0.5)),
            p90: ms(histogram.value_at_quantile(0.9)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// What a run did; [`serde_json`] renders it for machines, [`Summary::report`] for people.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// `open` or `closed`.
    pub mode: String,
    pub target_rate: Option<f64>,
    pub clients: Option<usize>,
    pub duration_secs: f64,
    /// From the first call to the last answer.
    pub elapsed_secs: f64,
    pub sent: u64,
    /// Calls that got an answer (a booking or a gRPC status) in time.
    pub answered: u64,
    /// Open loop: due calls not sent because `max_in_flight` were out.
    pub skipped: u64,
    pub booked: u64,
    pub failed: u64,
    /// Answers a second over the sending window.
    pub throughput_per_sec: f64,
    /// Every answered call (bookings and refusals).
    pub latency_ms: Latency,
    /// Calls answered with a booking.
    pub booked_latency_ms: Latency,
    /// Calls answered with an error (e.g. shed with RESOURCE_EXHAUSTED).
    pub failed_latency_ms: Latency,
    /// Status in the BookTickets answer (`CONFIRMED`, `PENDING`, ...).
    pub by_answer: BTreeMap<String, u64>,
    /// Status after following non-terminal answers; `UNSETTLED` when still not
    /// terminal after the settle time.
    pub by_final_status: BTreeMap<String, u64>,
    /// gRPC code of the failed calls (`RESOURCE_EXHAUSTED`, ...).
    pub by_error: BTreeMap<String, u64>,
    /// One example message per error code.
    pub error_examples: BTreeMap<String, String>,
    pub screenings: Vec<String>,
    /// Booking numbers answered (not in the JSON).
    #[serde(skip)]
    pub booking_numbers: Vec<String>,
    /// Booking numbers answered CONFIRMED: promises the system must keep (not in the JSON).
    #[serde(skip)]
    pub answered_confirmed: Vec<String>,
    /// When each CONFIRMED answer came, from the start of the load, in order (not in the
    /// JSON).
    #[serde(skip)]
    pub confirmed_at: Vec<Duration>,
}

impl Summary {
    /// The longest time without a CONFIRMED answer between the first and the last one
    /// (a failover's pause, under steady load).
    pub fn longest_confirmation_gap(&self) -> Duration {
        self.confirmed_at.windows(2).map(|w| w[1].saturating_sub(w[0])).max().unwrap_or_default()
    }

    /// A few lines for a terminal.
    pub fn report(&self) -> String {
        let l = &self.latency_ms;
        let mut out = format!(
            "{} loop{}: {} sent, {} answered, {} skipped in {:.1} s -> {:.1} answers/s\n\
             latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (mean {:.1})\n",
            self.mode,
            match (self.target_rate, self.clients) {
                (Some(rate), _) => format!(" at {rate}/s"),
                (_, Some(clients)) => format!(" with {clients} clients"),
                _ => String::new(),
            },
            self.sent,
            self.answered,
            self.skipped,
            self.elapsed_secs,
            self.throughput_per_sec,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            l.mean,
        );
        let line = |counts: &BTreeMap<String, u64>| {
            counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        out += &format!("answered:  {}\n", line(&self.by_answer));
        out += &format!("final:     {}\n", line(&self.by_final_status));
        if !self.by_error.is_empty() {
            let f = &self.failed_latency_ms;
            out += &format!("errors:    {}\n", line(&self.by_error));
            out += &format!("  latency of errors ms: p50 {:.1}  p99 {:.1}  max {:.1}\n", f.p50, f.p99, f.max);
            for (code, message) in &self.error_examples {
                out += &format!("  {code}: {message}\n");
            }
        }
        out
    }
}

/// Runs the load described by `options` and sums it up.
pub async fn run(options: &Options) -> Result<Summary> {
    options.check()?;
    let connect = |url: &str, caller: &Caller| -> Result<AuthChannel> {
        let channel = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("bad url {url}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(InterceptedService::new(channel, caller.clone()))
    };
    let admin = connect(&options.admin_url, &options.admin)?;
    let lookups = connect(&options.admin_url, &options.customer)?;
    let channels: Vec<AuthChannel> =
        (0..options.connections).map(|_| connect(&options.booking_url, &options.customer)).collect::<Result<_>>()?;

    let mut screenings = options.screenings.clone();
    if screenings.is_empty() {
        for n in 0..options.new_screenings {
            screenings.push(create_screening(&admin, n).await?);
        }
    }
    let mut targets = Vec::new();
    for screening in &screenings {
        targets.push(Target { screening_id: screening.clone(), seats: seat_ids(&admin, screening).await? });
    }
    let targets = Arc::new(targets);

    let stats = Arc::new(Mutex::new(Stats::new()?));
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(options, Arc::clone(&counters));
    let started = Instant::now();
    let end = started + options.duration;
    let mut calls = tokio::task::JoinSet::new();
    let sender = Sender {
        channels: Arc::new(channels),
        targets,
        options: Arc::new(options.clone()),
        stats: Arc::clone(&stats),
        counters: Arc::clone(&counters),
    };

    match options.mode {
        Mode::Open { rate } => {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let in_flight = Arc::new(Semaphore::new(options.max_in_flight));
            let mut rng = StdRng::seed_from_u64(options.seed);
            for n in 0u64.. {
                let due = started + interval.mul_f64(n as f64);
                if due >= end {
                    break;
                }
                // Pacing, not synchronization: the call is due then.
                tokio::time::sleep_until(due).await;
                let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
                    counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let (sender, seed) = (sender.clone(), rng.random());
                calls.spawn(async move {
                    sender.call(n, due, &mut StdRng::seed_from_u64(seed)).await;
                    drop(permit);
                });
            }
        }
        Mode::Closed { clients } => {
            for client in 0..clients {
                let sender = sender.clone();
                let seed = options.seed.wrapping_add(client as u64);
                calls.spawn(async move {
                    let mut rng = StdRng::seed_from_u64(seed);
                    let mut n = client as u64;
                    while Instant::now() < end {
                        sender.call(n, Instant::now(), &mut rng).await;
                        n += clients as u64;
                    }
                });
            }
        }
    }
    while let Some(done) = calls.join_next().await {
        done.context("a load task panicked")?;
    }
    let elapsed = started.elapsed();
    progress.finish();

    let mut stats = std::mem::replace(&mut *stats.lock().unwrap_or_else(|e| e.into_inner()), Stats::new()?);
    let answered_confirmed: Vec<String> = stats
        .booked
        .iter()
        .filter(|(_, status)| *status == BookingStatus::Confirmed)
        .map(|(number, _)| number.clone())
        .collect();
    let by_final_status = settle(&lookups, &mut stats, options.settle).await;
    let sent = counters.sent.load(Ordering::Relaxed);
    let answered = stats.all.len();
    let send_window = elapsed.min(options.duration).max(Duration::from_millis(1));
    Ok(Summary {
        mode: match options.mode {
            Mode::Open { .. } => "open",
            Mode::Closed { .. } => "closed",
        }
        .to_owned(),
        target_rate: match options.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed { .. } => None,
        },
        clients: match options.mode {
            Mode::Closed { clients } => Some(clients),
            Mode::Open { .. } => None,
        },
        duration_secs: options.duration.as_secs_f64(),
        elapsed_secs: elapsed.as_secs_f64(),
        sent,
        answered,
        skipped: counters.skipped.load(Ordering::Relaxed),
        booked: stats.booked.len() as u64,
        failed: stats.by_error.values().sum(),
        throughput_per_sec: answered as f64 / send_window.as_secs_f64(),
        latency_ms: Latency::of(&stats.all),
        booked_latency_ms: Latency::of(&stats.ok),
        failed_latency_ms: Latency::of(&stats.failed),
        by_answer: stats.by_answer,
        by_final_status,
        by_error: stats.by_error,
        error_examples: stats.error_examples,
        screenings,
        booking_numbers: stats.booked.into_iter().map(|(number, _)| number).collect(),
        answered_confirmed,
        confirmed_at: {
            let mut at: Vec<Duration> =
                stats.confirmed_at.iter().map(|t| t.saturating_duration_since(started)).collect();
            at.sort();
            at
        },
    })
}

/// A screening and its seat ids.
struct Target {
    screening_id: String,
    seats: Vec<String>,
}

/// What every call records.
struct Stats {
    all: Histogram<u64>,
    ok: Histogram<u64>,
    failed: Histogram<u64>,
    by_answer: BTreeMap<String, u64>,
    by_error: BTreeMap<String, u64>,
    error_examples: BTreeMap<String, String>,
    /// (booking number, answered status)
    booked: Vec<(String, BookingStatus)>,
    /// When each CONFIRMED answer came.
    confirmed_at: Vec<Instant>,
}

impl Stats {
    fn new() -> Result<Self> {
        // Microseconds, 1 µs .. 10 min, three significant digits.
        let histogram = || Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram bounds");
        Ok(Self {
            all: histogram()?,
            ok: histogram()?,
            failed: histogram()?,
            by_answer: BTreeMap::new(),
            by_error: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            booked: Vec::new(),
            confirmed_at: Vec::new(),
        })
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

#[derive(Clone)]
struct Sender {
    channels: Arc<Vec<AuthChannel>>,
    targets: Arc<Vec<Target>>,
    options: Arc<Options>,
    stats: Arc<Mutex<Stats>>,
    counters: Arc<Counters>,
}

impl Sender {
    /// Sends call `n` (due at `due`) and records its answer.
    async fn call(&self, n: u64, due: Instant, rng: &mut StdRng) {
        let target = &self.targets[rng.random_range(0..self.targets.len())];
        let count = rng.random_range(self.options.min_seats..=self.options.max_seats).min(target.seats.len());
        let seat_ids: Vec<String> = target.seats.choose_multiple(rng, count).cloned().collect();
        let mut request = tonic::Request::new(BookTicketsRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            // The signed-in customer's.
            customer_id: String::new(),
            screening_id: target.screening_id.clone(),
            seat_ids,
            payment: Some(PaymentMethod { card_token: self.options.card_token.clone() }),
        });
        request.set_timeout(self.options.request_timeout);
        let mut client = BookingServiceClient::new(self.channels[n as usize % self.channels.len()].clone());
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        let answer = tokio::time::timeout(self.options.request_timeout, client.book_tickets(request)).await;
        let micros = due.elapsed().as_micros().clamp(1, 600_000_000) as u64;
        self.counters.answered.fetch_add(1, Ordering::Relaxed);
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let _ = stats.all.record(micros);
        match answer {
            Ok(Ok(result)) => {
                let result = result.into_inner();
                let status = BookingStatus::try_from(result.status).unwrap_or(BookingStatus::Unspecified);
                let _ = stats.ok.record(micros);
                *stats.by_answer.entry(status_name(status)).or_default() += 1;
                if status == BookingStatus::Confirmed {
                    stats.confirmed_at.push(Instant::now());
                }
                stats.booked.push((result.booking_number, status));
            }
            Ok(Err(status)) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let _ = stats.failed.record(micros);
                let code = code_name(status.code());
                *stats.by_error.entry(code.to_owned()).or_default() += 1;
                stats.error_examples.entry(code.to_owned()).or_insert_with(|| status.message().to_owned());
            }
            Err(_elapsed) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let _ = stats.failed.record(micros);
                *stats.by_error.entry(code_name(Code::DeadlineExceeded).to_owned()).or_default() += 1;
                stats
                    .error_examples
                    .entry(code_name(Code::DeadlineExceeded).to_owned())
                    .or_insert_with(|| format!("no answer within {:?} (client timeout)", self.options.request_timeout));
            }
        }
    }
}

/// Follows the non-terminal answers with GetBooking until each is terminal or
/// `within` has passed; returns the count by final status.
async fn settle(lookups: &AuthChannel, stats: &mut Stats, within: Duration) -> BTreeMap<String, u64> {
    let terminal = |s: BookingStatus| {
        matches!(
            s,
            BookingStatus::Confirmed | BookingStatus::Rejected | BookingStatus::Expired | BookingStatus::Cancelled
        )
    };
    let until = Instant::now() + within;
    let mut client = BookingQueryServiceClient::new(lookups.clone());
    let mut open: Vec<usize> = (0..stats.booked.len()).filter(|&i| !terminal(stats.booked[i].1)).collect();
    while !open.is_empty() && Instant::now() < until {
        let mut still = Vec::new();
        for i in open {
            // Only the number; other fields (read-your-writes options) keep their defaults.
            #[allow(clippy::needless_update)]
            let request = GetBookingRequest { booking_number: stats.booked[i].0.clone(), ..Default::default() };
            match client.get_booking(request).await {
                Ok(booking) => {
                    let status = booking.into_inner().status;
                    stats.booked[i].1 = BookingStatus::try_from(status).unwrap_or(BookingStatus::Unspecified);
                    if !terminal(stats.booked[i].1) {
                        still.push(i);
                    }
                }
                Err(_) => still.push(i),
            }
        }
        open = still;
        if !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut counts = BTreeMap::new();
    for (_, status) in &stats.booked {
        let name = if terminal(*status) { status_name(*status) } else { "UNSETTLED".to_owned() };
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// Registers a movie and schedules one screening of it (days ahead, so holds
/// and show times never collide); waits until its seat map exists.
pub async fn create_screening(admin: &AuthChannel, n: usize) -> Result<String> {
    let mut screening = ScreeningServiceClient::new(admin.clone());
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let movie = screening
        .register_movie(RegisterMovieRequest {
            title: format!("load test {tag}"),
            status: MovieStatus::Running.into(),
            running_minutes: 120,
        })
        .await
        .context("RegisterMovie")?
        .into_inner();
    let starts = chrono::Utc::now() + chrono::Duration::days(3 + n as i64);
    let scheduled = screening
        .schedule_screening(ScheduleScreeningRequest {
            movie_id: movie.movie_id,
            starts_at: Some(prost_types::Timestamp { seconds: starts.timestamp(), nanos: 0 }),
            price: Some(Money { currency: "KRW".into(), amount: 12_000 }),
            ..Default::default()
        })
        .await
        .context("ScheduleScreening")?
        .into_inner();
    Ok(scheduled.screening_id)
}

/// The seat ids of a screening, once its seat map exists (it arrives through NATS).
pub async fn seat_ids(admin: &AuthChannel, screening_id: &str) -> Result<Vec<String>> {
    let seats = SeatsServiceClient::new(admin.clone());
    let map = poll_until(
        &format!("the seat map of {screening_id}"),
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let mut seats = seats.clone();
            async move {
                let request = GetSeatMapRequest { screening_id: screening_id.to_owned() };
                match seats.get_seat_map(request).await {
                    Ok(map) => Ok(Some(map.into_inner())),
                    Err(status) if status.code() == Code::NotFound => Ok(None),
                    Err(status) if status.code() == Code::InvalidArgument => bail!("GetSeatMap: {status:?}"),
                    Err(_) => Ok(None),
                }
            }
        },
    )
    .await?;
    ensure!(!map.seats.is_empty(), "screening {screening_id} has no seats");
    Ok(map.seats.into_iter().map(|s| s.seat_id).collect())
}

/// `CONFIRMED` for `BOOKING_STATUS_CONFIRMED`.
fn status_name(status: BookingStatus) -> String {
    status.as_str_name().trim_start_matches("BOOKING_STATUS_").to_owned()
}

/// The canonical gRPC code name (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The terminal progress bar (hidden unless asked for), ticked from the counters.
struct Progress {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(options: &Options, counters: Arc<Counters>) -> Self {
        let total = options.duration.as_millis() as u64;
        let bar = if options.progress { indicatif::ProgressBar::new(total) } else { indicatif::ProgressBar::hidden() };
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}") {
            bar.set_style(style);
        }
        let (ticking, started) = (bar.clone(), std::time::Instant::now());
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                ticking.set_position((started.elapsed().as_millis() as u64).min(total));
                ticking.set_message(format!(
                    "sent {} answered {} failed {} skipped {}",
                    counters.sent.load(Ordering::Relaxed),
                    counters.answered.load(Ordering::Relaxed),
                    counters.failed.load(Ordering::Relaxed),
                    counters.skipped.load(Ordering::Relaxed),
                ));
            }
        });
        Self { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
        for micros in 1..=1000 {
            histogram.record(micros * 1000).unwrap();
        }
        let latency = Latency::of(&histogram);
        assert_eq!(latency.count, 1000);
        assert!((latency.p50 - 500.0).abs() < 1.0, "{latency:?}");
        assert!((latency.p99 - 990.0).abs() < 1.0, "{latency:?}");
        assert!((latency.max - 1000.0).abs() < 1.0, "{latency:?}");
    }

    #[test]
    fn bad_options_are_refused() {
        let ok = Options::new("http://127.0.0.1:1", Mode::Open { rate: 10.0 }, Duration::from_secs(1));
        assert!(ok.check().is_ok());
        for bad in [
            Options { mode: Mode::Open { rate: 0.0 }, ..ok.clone() },
            Options { mode: Mode::Open { rate: f64::NAN }, ..ok.clone() },
            Options { mode: Mode::Closed { clients: 0 }, ..ok.clone() },
            Options { duration: Duration::ZERO, ..ok.clone() },
            Options { min_seats: 3, max_seats: 2, ..ok.clone() },
            Options { new_screenings: 0, ..ok.clone() },
        ] {
            assert!(bad.check().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn code_names_are_the_canonical_ones() {
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(status_name(BookingStatus::AwaitingPayment), "AWAITING_PAYMENT");
    }
}
