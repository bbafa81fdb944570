//! `cargo xtask`: the dev workflow.
//!
//! - `up [--fresh] [--tls]`: build, provision the engines, run the whole stack on the default ports
//!   with state under `<repo>/.cinema/`, load demo data, print examples, supervise; Ctrl-C
//!   stops everything.
//! - `test`: fmt, clippy, build, provision, then nextest (or `cargo test`).
//! - `chart`: the chart step of `test` alone: lint, render, validate the Helm chart.
//! - `tools`: provision the engines and print where they are.
//! - `load`: the load generator (open loop `--rate R` or closed loop `--clients N`) against
//!   a running stack (`--addr`) or a private one; text or JSON summary.
//! - `chaos`: `--runs N --seed S` seeded random fault schedules on private stacks; prints
//!   the seed of any failing run.
//! - `bench [--quick] [--json F] [--plot F]`: release binaries on a release stack, measured
//!   against this machine's own limits in the same run (see `bench.rs`).
//! - `fuzz --cases N --seed S`: the fuzz campaign of the e2e tests, longer, on a private
//!   stack.
//! - `sdk [--check] [--release-contracts]`: regenerate the SDKs' checked-in code from
//!   `proto/`; or check it is current and run the contract gates (buf lint, buf breaking).
//! - `web [--check]`: build the customer's page and copy it into the Helm chart
//!   (`helm/cinema/files/web/`, which the gateway serves in production); or check that copy
//!   is current.
//! - `token --customer ID [--role admin|operator] [--ttl 1h]`: a bearer token from the dev
//!   issuer whose keys `up` gives the gateway (`.cinema/auth/`).

mod bench;
mod chaos;
mod chart;
mod demo;
mod load;
mod sdk;
mod test;
mod up;
mod web;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "cinema dev workflow")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack locally (Envoy on :8080) until Ctrl-C.
    Up {
        /// Start from empty state: wipe `.cinema/` (and the `cinema_*` databases on an
        /// external server).
        #[arg(long)]
        fresh: bool,
        /// Use the binaries already built (skip `cargo build --workspace --bins`).
        #[arg(long)]
        no_build: bool,
        /// Serve the gateway over TLS, with a certificate from a local CA
        /// (`.cinema/tls/ca.pem`: trust it with `curl --cacert` / `grpcurl -cacert`).
        #[arg(long)]
        tls: bool,
    },
    /// The CI gate: fmt, clippy, build, provision tools, tests.
    Test,
    /// The chart step of `test` alone: lint, render and validate the Helm chart (helm/cinema).
    Chart,
    /// Provision the engines (envoy, nats-server, grpcurl, postgres) and print their paths.
    Tools,
    /// Book seats under load and report latency percentiles and outcomes.
    Load(Box<load::Args>),
    /// Run seeded random fault schedules under load; print the seed of any failing run.
    Chaos(chaos::Args),
    /// The release benchmark, measured against this machine's limits in the same run.
    Bench(bench::Args),
    /// A longer fuzz campaign (malformed input at every public route) on a private stack.
    Fuzz {
        #[arg(long, default_value_t = 10_000)]
        cases: usize,
        #[arg(long, default_value_t = 0xf022)]
        seed: u64,
        /// Use the binaries already built.
        #[arg(long)]
        no_build: bool,
    },
    /// Regenerate the client SDKs' code from proto/ (or check it, and the contract gates).
    Sdk {
        /// Change nothing: fail when the checked-in code is stale, then run buf lint and
        /// buf breaking against the released contracts.
        #[arg(long)]
        check: bool,
        /// Make the current contracts the released baseline `buf breaking` compares against.
        #[arg(long, conflicts_with = "check")]
        release_contracts: bool,
    },
    /// Build the customer's page and copy it into the Helm chart (or check the copy).
    Web {
        /// Change nothing: fail when the chart's copy (helm/cinema/files/web) is not the
        /// page as built.
        #[arg(long)]
        check: bool,
    },
    /// Print a bearer token from the dev issuer that `cargo xtask up` trusts.
    Token {
        /// The customer (the token's `sub`).
        #[arg(long)]
        customer: String,
        /// A role: `admin` or `operator` (repeatable).
        #[arg(long = "role", value_parser = ["admin", "operator"])]
        roles: Vec<String>,
        /// How long it is valid: `30m`, `1h`, `2d` or plain seconds.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cinema_tests::install_crypto_provider();
    let result: Result<()> = match cli.command {
        Command::Up { fresh, no_build, tls } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(up::run(fresh, !no_build, tls))),
        Command::Test => test::run(),
        Command::Chart => chart::run(&cinema_tests::repo_root()),
        Command::Tools => tools(),
        Command::Load(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(load::run(*args))),
        Command::Token { customer, roles, ttl } => token(&customer, &roles, &ttl),
        Command::Sdk { check, release_contracts } => sdk(check, release_contracts),
        Command::Web { check } => web(check),
        Command::Fuzz { cases, seed, no_build } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(fuzz(cases, seed, !no_build))),
        Command::Bench(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(bench::run(args))),
        Command::Chaos(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(chaos::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn tools() -> Result<()> {
    let tools = cinema_tests::Tools::ensure(true)?;
    println!("tool dir    {}", cinema_tests::tools::tools_dir().display());
    println!("envoy       {}", tools.envoy.display());
    println!("nats-server {}", tools.nats_server.display());
    println!("grpcurl     {}", tools.grpcurl.display());
    if let Some(pg) = &tools.postgres_bin {
        println!("postgres    {}", pg.display());
    }
    Ok(())
}

fn sdk(check: bool, release_contracts: bool) -> Result<()> {
    let root = cinema_tests::repo_root();
    cinema_tests::Tools::ensure(false)?;
    let tools = sdk::provision(&root)?;
    if release_contracts {
        return sdk::release_contracts(&root, &tools);
    }
    if check {
        sdk::check_generated(&root, &tools)?;
        return sdk::check_contracts(&root, &tools);
    }
    sdk::generate(&root, &tools, &root)?;
    eprintln!("regenerated sdk/typescript/src/gen and sdk/python/src/cinema_client/_gen");
    Ok(())
}

fn web(check: bool) -> Result<()> {
    let root = cinema_tests::repo_root();
    web::build(&root)?;
    if check { web::check(&root) } else { web::update(&root) }
}

/// The dev issuer of `cargo xtask up` (its key is made on first use).
fn dev_issuer() -> Result<cinema_tests::auth::DevIssuer> {
    cinema_tests::auth::DevIssuer::load_or_create(&cinema_tests::repo_root().join(".cinema").join("auth"))
}

fn token(customer: &str, roles: &[String], ttl: &str) -> Result<()> {
    use anyhow::Context as _;
    anyhow::ensure!(
        !customer.is_empty() && customer.chars().count() <= 100 && !customer.chars().any(char::is_control),
        "--customer must be 1 to 100 printable characters"
    );
    let ttl = cinema_tests::auth::parse_ttl(ttl).context("--ttl")?;
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let claims = cinema_tests::auth::Claims::new(customer).roles(&roles).ttl(ttl);
    println!("{}", dev_issuer()?.sign(&claims));
    Ok(())
}

/// `cargo xtask fuzz`: the campaign of `tests/e2e/fuzz.rs`, longer, then the same checks.
async fn fuzz(cases: usize, seed: u64, build: bool) -> Result<()> {
    use cinema_tests::{Service, Stack, StackOptions, invariants};
    if build {
        load::build_bins()?;
    }
    let stack = Stack::start(StackOptions::for_tests()).await?;
    eprintln!("== fuzzing the gateway: {cases} cases, seed {seed}");
    let report = cinema_tests::fuzz::run(&stack, cinema_tests::fuzz::Options { cases, seed }).await?;
    println!("{}", report.summary());
    for (case, sent, answer) in &report.failures {
        println!("  case {case}: {sent} -> {answer}");
    }
    let restarted: Vec<Service> =
        Service::ALL.into_iter().filter(|s| !stack.is_running(*s) || stack.restarts(*s) > 0).collect();
    let checked = invariants::check(&stack, &invariants::Limits::default()).await;
    stack.shutdown().await?;
    anyhow::ensure!(restarted.is_empty(), "restarted or down: {restarted:?}");
    checked?;
    anyhow::ensure!(
        report.failures.is_empty(),
        "{} inputs were not refused as client errors (seed {seed})",
        report.failures.len()
    );
    Ok(())
}

/// Runs `command`; an error names it and how it exited.
fn status(command: &mut std::process::Command) -> Result<()> {
    use anyhow::Context as _;
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} exited with {status}");
    Ok(())
}

/// Whether `name` is a file in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// `cargo` (the one that runs us, when known).
fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
