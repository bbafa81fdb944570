//! `cargo xtask chaos`: seeded random fault schedules (`cinema_tests::chaos::run_schedule`),
//! each on a fresh private stack, each step under load and checked by the invariants.
//! Run `i` uses seed `S + i`; the seed of every failing run is printed, and
//! `--runs 1 --seed <it>` replays its schedule.

use anyhow::{Result, bail};
use cinema_tests::chaos::{self, Settings};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many schedules to run.
    #[arg(long, default_value_t = 10)]
    runs: u64,
    /// The first run's seed (default: drawn from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Faults per schedule.
    #[arg(long, default_value_t = 4)]
    steps: usize,
    /// Background load, bookings a second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Use the binaries already built.
    #[arg(long)]
    no_build: bool,
}

pub async fn run(args: Args) -> Result<()> {
    if !args.no_build {
        crate::load::build_bins()?;
    }
    let first = args.seed.unwrap_or_else(|| chrono::Utc::now().timestamp_millis() as u64);
    eprintln!("== {} chaos runs of {} faults, seeds {first}..{}", args.runs, args.steps, first + args.runs);
    let mut failed = Vec::new();
    for run in 0..args.runs {
        let seed = first + run;
        eprintln!("\n== run {}/{} (seed {seed})", run + 1, args.runs);
        let settings = Settings { rate: args.rate, ..Settings::default() };
        match chaos::run_schedule(seed, args.steps, settings).await {
            Ok(outcomes) => eprintln!("== seed {seed}: ok ({} steps)", outcomes.len()),
            Err(e) => {
                eprintln!("== seed {seed}: FAILED: {e:#}");
                failed.push(seed);
            }
        }
    }
    if failed.is_empty() {
        eprintln!("\n== all {} runs kept every promise", args.runs);
        return Ok(());
    }
    let seeds: Vec<String> = failed.iter().map(u64::to_string).collect();
    println!("failing seeds: {}", seeds.join(" "));
    bail!("{} of {} runs failed (replay one: cargo xtask chaos --runs 1 --seed {})", failed.len(), args.runs, failed[0])
}
