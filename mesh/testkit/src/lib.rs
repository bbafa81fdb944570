//! What the services' API tests share (a dev-dependency only).
//!
//! - [`TestDatabase`]: a database of the test's own on the shared Postgres,
//!   dropped when the last handle goes.
//! - [`nats_url`]: the shared NATS with JetStream.
//! - [`fake_http`]: a real HTTP (or HTTPS) server standing in for a third party.
//! - [`tls`]: a throwaway CA and a server certificate for `127.0.0.1`.
//! - [`eventually`]: poll with a deadline instead of sleeping.
//! - [`run_detached`]: async clean-up from a `Drop`.
//! - [`fuzz_config`]: the bounded, seeded proptest campaign over request parsers.

pub mod fake_http;
pub mod tls;

use std::future::Future;
use std::time::{Duration, Instant};

/// The parser fuzz campaigns' proptest settings: 2,000 cases from a fixed seed (a run is
/// repeatable; `PROPTEST_CASES` / `PROPTEST_RNG_SEED` override), nothing persisted.
pub fn fuzz_config() -> proptest::test_runner::Config {
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xc1_4e3a);
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    proptest::test_runner::Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// `$CINEMA_TEST_POSTGRES_URL`, else the machine's Postgres (trust auth).
pub fn postgres_server() -> String {
    std::env::var("CINEMA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// `$CINEMA_TEST_NATS_URL`, else the machine's NATS with JetStream.
pub fn nats_url() -> String {
    std::env::var("CINEMA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A database of one's own (`cinema_<service>_test_<uuid>`; the service creates
/// it on start), dropped with the handle.
pub struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    pub fn new(service: &str) -> Self {
        Self { server: postgres_server(), name: format!("cinema_{service}_test_{}", uuid::Uuid::new_v4().simple()) }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (format!("{}/postgres", self.server), self.name.clone());
        run_detached("drop the test database", async move {
            use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
            let mut conn = AsyncPgConnection::establish(&server).await?;
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await?;
            Ok(())
        });
    }
}

/// Runs `work` to the end on a private runtime on its own thread (a `Drop` may
/// run inside a runtime), reporting a failure on stderr.
pub fn run_detached(what: &str, work: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
    let done =
        std::thread::spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(work))
            .join();
    if let Ok(Err(error)) = done {
        eprintln!("could not {what}: {error:#}");
    }
}

/// Polls `check` until it returns `Some`, or panics after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
