//! The bounded fuzz campaign (`cinema_tests::fuzz`) at every public route through Envoy:
//! every answer a client error, no process restarted, nothing written, invariants clean.
//! `cargo xtask fuzz --cases N --seed S` runs a longer one.

use anyhow::{Result, ensure};
use cinema_tests::Service;
use cinema_tests::fuzz::{self, Options};
use cinema_tests::invariants::{self, Limits};

use crate::client::TestApp;

/// Rows a refused request must leave alone.
async fn rows(app: &TestApp) -> Result<Vec<i64>> {
    let mut counts = Vec::new();
    for (service, table) in [
        (Service::Orchestrator, "sagas"),
        (Service::Screening, "movies"),
        (Service::Screening, "screenings"),
        (Service::Seats, "holds"),
        (Service::Reservation, "reservations"),
        (Service::Payment, "payments"),
        (Service::Loyalty, "partner_links"),
        (Service::Notification, "deliveries"),
    ] {
        counts.push(app.count(service, &format!("SELECT count(*) AS n FROM {table}")).await?);
    }
    Ok(counts)
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_input_at_every_public_route_is_a_client_error_and_writes_nothing() -> Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("퍼즈").await?;
    app.schedule(movie["movieId"].as_str().unwrap_or_default(), 2).await?;
    let before = rows(&app).await?;

    let seed = std::env::var("CINEMA_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xf022);
    let report = fuzz::run(&app.stack, Options { cases: 1500, seed }).await?;
    eprintln!("fuzz (seed {seed}): {}", report.summary());
    for (case, sent, answer) in report.failures.iter().take(20) {
        eprintln!("  case {case}: {sent} -> {answer}");
    }
    ensure!(
        report.failures.is_empty(),
        "{} inputs were not refused as client errors (seed {seed})",
        report.failures.len()
    );

    for service in Service::ALL {
        ensure!(app.stack.is_running(service) && app.stack.restarts(service) == 0, "{service} restarted");
    }
    ensure!(rows(&app).await? == before, "a malformed request wrote something");
    invariants::check(&app.stack, &Limits::default()).await?;
    app.stack.shutdown().await
}
