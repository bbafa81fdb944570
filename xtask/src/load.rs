//! `cargo xtask load`: the load generator (`cinema_tests::load`) from the command line.
//! Without `--addr` it builds and starts a private stack (free ports, temporary state),
//! runs the load through its Envoy gateway, then checks the invariants.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cinema_tests::auth::Caller;
use cinema_tests::load::{self, Mode, Options};
use cinema_tests::{Stack, StackOptions, invariants};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Open loop: calls a second, sent on time whatever the answers do (default 20).
    #[arg(long, conflicts_with = "clients")]
    rate: Option<f64>,
    /// Closed loop: this many clients, each waiting for its answer before the next call.
    #[arg(long)]
    clients: Option<usize>,
    /// How long to send for: `30s`, `500ms`, `2m` or plain seconds.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// BookingService address (Envoy or the orchestrator), e.g. `http://127.0.0.1:8080`.
    /// Without it a private stack is started.
    #[arg(long)]
    addr: Option<String>,
    /// Where screenings, seat maps and booking lookups go (default: `--addr`).
    #[arg(long)]
    admin_addr: Option<String>,
    /// Book this screening (repeatable) instead of creating new ones.
    #[arg(long = "screening")]
    screenings: Vec<String>,
    /// How many screenings to create when none is given.
    #[arg(long, default_value_t = 1)]
    new_screenings: usize,
    /// Seats per booking: `2` or a range `1-4`.
    #[arg(long, default_value = "1-2", value_parser = parse_range)]
    seats: (usize, usize),
    /// The card token (`tok_decline` is always declined).
    #[arg(long, default_value = "tok_visa")]
    card: String,
    /// A call unanswered by then counts as DEADLINE_EXCEEDED.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// How long to follow PENDING / AWAITING_PAYMENT answers to their final status.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    settle: Duration,
    /// Open loop: calls in flight at most (a due call beyond it is skipped and counted).
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// HTTP/2 connections to spread the calls over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seeds the seat choice.
    #[arg(long, default_value_t = 0x00c1_4e3a)]
    seed: u64,
    /// Write the JSON summary to this file (`-`: stdout, instead of the text report).
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// With a private stack: use the binaries already built.
    #[arg(long)]
    no_build: bool,
    /// With `--addr`: the customer's bearer token (default: one from the dev issuer of
    /// `cargo xtask up`, for the customer `load-customer`).
    #[arg(long)]
    token: Option<String>,
    /// With `--addr`: a bearer token with the `admin` role, to create screenings
    /// (default: one from the dev issuer of `cargo xtask up`).
    #[arg(long)]
    admin_token: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let mode = match (args.rate, args.clients) {
        (_, Some(clients)) => Mode::Closed { clients },
        (rate, None) => Mode::Open { rate: rate.unwrap_or(20.0) },
    };
    let (stack, addr) = match &args.addr {
        Some(addr) => (None, addr.clone()),
        None => {
            if !args.no_build {
                build_bins()?;
            }
            eprintln!("== starting a private stack");
            let stack = Stack::start(StackOptions::for_tests()).await?;
            let url = stack.gateway_url();
            (Some(stack), url)
        }
    };
    let base = match &stack {
        Some(stack) => stack.load_options(mode, args.duration)?,
        None => {
            let issuer = crate::dev_issuer()?;
            let token = args.token.clone().unwrap_or_else(|| issuer.customer("load-customer"));
            let admin = args.admin_token.clone().unwrap_or_else(|| issuer.with_roles("admin", &["admin"]));
            Options {
                customer: Caller::bearer(Some(&token))?,
                admin: Caller::bearer(Some(&admin))?,
                ..Options::new(addr.clone(), mode, args.duration)
            }
        }
    };
    let options = Options {
        booking_url: addr.clone(),
        admin_url: args.admin_addr.clone().unwrap_or_else(|| addr.clone()),
        screenings: args.screenings.clone(),
        new_screenings: args.new_screenings,
        min_seats: args.seats.0,
        max_seats: args.seats.1,
        card_token: args.card.clone(),
        request_timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        settle: args.settle,
        connections: args.connections,
        progress: !args.quiet,
        seed: args.seed,
        ..base
    };
    eprintln!("== load against {addr} for {:?}", args.duration);
    let summary = load::run(&options).await;

    let checked = match (&stack, &summary) {
        (Some(stack), Ok(_)) => {
            eprintln!("== waiting for every saga to finish, then checking the invariants");
            let settled = invariants::settle(stack, Duration::from_secs(60)).await;
            Some(match settled {
                Ok(_) => invariants::check(stack, &invariants::Limits::default()).await,
                Err(e) => Err(e),
            })
        }
        _ => None,
    };
    if let Some(stack) = stack {
        stack.shutdown().await?;
    }
    let summary = summary?;

    let json = serde_json::to_string_pretty(&summary)?;
    match args.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => println!("{json}"),
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
            print!("{}", summary.report());
            eprintln!("== summary written to {}", path.display());
        }
        None => print!("{}", summary.report()),
    }
    match checked {
        Some(Ok(report)) => eprintln!("== invariants hold: {report:?}"),
        Some(Err(e)) => bail!("invariants broken: {e:#}"),
        None => {}
    }
    Ok(())
}

pub fn build_bins() -> Result<()> {
    eprintln!("== building the services (cargo build --workspace --bins)");
    let status = crate::cargo()
        .current_dir(cinema_tests::repo_root())
        .args(["build", "--workspace", "--bins"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// `30s`, `250ms`, `2m`, `1.5` (seconds).
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = match raw.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => raw.split_at(at),
        None => (raw, "s"),
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("not a duration: {raw:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {raw:?} (ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("not a duration: {raw:?}"))
}

/// `2` or `1-4`.
fn parse_range(raw: &str) -> Result<(usize, usize), String> {
    let parse = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("not a seat count: {raw:?}"));
    let (min, max) = match raw.split_once('-') {
        Some((min, max)) => (parse(min)?, parse(max)?),
        None => (parse(raw)?, parse(raw)?),
    };
    if min == 0 || min > max {
        return Err(format!("seats must be 1 <= min <= max, got {raw:?}"));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ranges_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3h").is_err());
        assert_eq!(parse_range("2"), Ok((2, 2)));
        assert_eq!(parse_range("1-4"), Ok((1, 4)));
        assert!(parse_range("0").is_err());
        assert!(parse_range("3-1").is_err());
    }
}
