//! The client SDKs against a live stack, through the gateway, signed in with the dev
//! issuer's tokens: the Rust SDK (`sdk/rust`, crate `cinema-client`) here, in process; the
//! TypeScript (`sdk/typescript`) and Python (`sdk/python`) SDKs run their own suites
//! (node's test runner, pytest) against a stack started for them.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_client::proto::common::v1::BookingStatus;
use cinema_client::proto::seats::v1::{GetSeatMapRequest, SeatStatus};
use cinema_client::{Backoff, BookRequest, Client, Error};
use cinema_tests::{Service, Stack, StackOptions};
use futures::StreamExt as _;

use crate::client::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_books_follows_retries_and_types_its_errors() -> Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("파묘").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 6).await?;
    let gateway = app.stack.gateway_url();
    let kim = Client::new(&gateway, Some(&app.stack.customer_token("kim")))?;

    // Book: CONFIRMED, the seats sold; the same request again is the same booking.
    let request = BookRequest::new(&screening, ["A-1", "A-2"], "tok_visa");
    let booking = kim.book(&request).await?;
    ensure!(booking.status() == BookingStatus::Confirmed, "{booking:?}");
    ensure!(booking.customer_id == "kim" && booking.seat_ids == ["A-1", "A-2"], "{booking:?}");
    let again = kim.book(&request).await?;
    ensure!(again.booking_number == booking.booking_number, "a retried request is the same booking");
    let map = kim.seats().get_seat_map(GetSeatMapRequest { screening_id: screening.clone() }).await?.into_inner();
    let sold = map.seats.iter().filter(|s| s.status() == SeatStatus::Sold).count();
    ensure!(sold == 2, "{sold} seats sold");

    // Seat management is down: BookTickets answers PENDING; book() follows it to
    // CONFIRMED once the seats service is back.
    app.stack.stop(Service::Seats)?;
    let pending_request = BookRequest::new(&screening, ["B-1"], "tok_visa");
    let answer = kim.book_tickets(&pending_request).await?;
    ensure!(answer.status() == BookingStatus::Pending, "{answer:?}");
    let following = tokio::spawn({
        let (kim, pending_request) = (kim.clone(), pending_request.clone());
        async move { kim.book(&pending_request).await }
    });
    app.stack.restart(Service::Seats).await?;
    let followed =
        tokio::time::timeout(Duration::from_secs(30), following).await.context("book() never returned")???;
    ensure!(followed.status() == BookingStatus::Confirmed, "{followed:?}");
    ensure!(followed.booking_number == answer.booking_number);

    // The orchestrator is down: without retries the error is UNAVAILABLE; with them,
    // the booking goes through once it is back, as one booking.
    app.stack.stop(Service::Orchestrator)?;
    let outage_request = BookRequest::new(&screening, ["C-1"], "tok_visa");
    let once = kim.clone().with_backoff(Backoff { attempts: 1, ..Backoff::default() });
    match once.book_tickets(&outage_request).await {
        Err(Error::Unavailable { attempts: 1, .. }) => {}
        other => anyhow::bail!("expected UNAVAILABLE after one attempt, got {other:?}"),
    }
    let retrying = tokio::spawn({
        let (kim, outage_request) = (kim.clone(), outage_request.clone());
        async move { kim.book(&outage_request).await }
    });
    app.stack.restart(Service::Orchestrator).await?;
    let through =
        tokio::time::timeout(Duration::from_secs(30), retrying).await.context("book() never returned")???;
    ensure!(through.status() == BookingStatus::Confirmed, "{through:?}");
    let sagas = app
        .count(
            Service::Orchestrator,
            &format!("SELECT count(*) AS n FROM sagas WHERE request_id = '{}'", outage_request.request_id),
        )
        .await?;
    ensure!(sagas == 1, "{sagas} sagas for one request id");

    // A malformed request: INVALID_ARGUMENT, each field named.
    let empty = BookRequest::new("not-a-screening", Vec::<String>::new(), "tok_visa");
    match kim.book(&empty).await {
        Err(error @ Error::InvalidArgument { .. }) => {
            let fields: Vec<&str> = error.field_violations().iter().map(|v| v.field.as_str()).collect();
            ensure!(fields.contains(&"seat_ids") && fields.contains(&"screening_id"), "{fields:?}");
        }
        other => anyhow::bail!("expected INVALID_ARGUMENT, got {other:?}"),
    }

    // A declined card: REJECTED with the reason.
    let declined = kim.book(&BookRequest::new(&screening, ["D-1"], "tok_decline")).await?;
    ensure!(declined.status() == BookingStatus::Rejected && declined.reason.contains("declined"), "{declined:?}");

    // Someone else's booking is not found; without a token, sign-in is required.
    let lee = Client::new(&gateway, Some(&app.stack.customer_token("lee")))?;
    ensure!(matches!(lee.get_booking(&booking.booking_number).await, Err(Error::NotFound { .. })));
    ensure!(matches!(lee.cancel(&booking.booking_number, "mine now").await, Err(Error::NotFound { .. })));
    let anonymous = Client::new(&gateway, None)?;
    ensure!(matches!(anonymous.get_booking(&booking.booking_number).await, Err(Error::Unauthenticated { .. })));

    // Cancel: CANCELLED; a watch of it shows the final status once and ends.
    let cancelled = kim.cancel(&booking.booking_number, "plans changed").await?;
    ensure!(cancelled.status() == BookingStatus::Cancelled, "{cancelled:?}");
    let watched: Vec<_> = tokio::time::timeout(Duration::from_secs(10), kim.watch(&booking.booking_number).collect())
        .await
        .context("the watch of a cancelled booking did not end")?;
    let last = watched.last().context("nothing watched")?.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    ensure!(last.status() == BookingStatus::Cancelled, "{watched:?}");
    let listed = kim.list_bookings("kim", "").await?;
    ensure!(listed.bookings.len() == 4, "kim's bookings: {}", listed.bookings.len());
    Ok(())
}

/// Runs a suite of its own (an SDK's, the page's) against a fresh stack: `program args`
/// in the repository root, with the gateway (which also serves the page) and three tokens
/// (two customers and an admin) in its environment. Returns what it printed; fails with
/// its output when it fails.
pub(crate) async fn run_suite(program: &Path, args: &[&str], extra_env: &[(&str, String)]) -> Result<String> {
    let stack = Stack::start(StackOptions::for_tests()).await?;
    let root = cinema_tests::repo_root();
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir(&root)
        .args(args)
        .env("CINEMA_GATEWAY_URL", stack.gateway_url())
        .env("CINEMA_GATEWAY_ADDR", stack.gateway_addr())
        .env("CINEMA_WEB_URL", stack.gateway_url())
        .env("CINEMA_TOKEN", stack.customer_token("kim"))
        .env("CINEMA_OTHER_TOKEN", stack.customer_token("lee"))
        .env("CINEMA_ADMIN_TOKEN", stack.admin_token())
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .with_context(|| format!("{} {args:?} ran over 4 minutes", program.display()))?
        .with_context(|| {
            format!("running {} (is it installed? `cargo xtask test` provisions it)", program.display())
        })?;
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    stack.shutdown().await?;
    ensure!(output.status.success(), "{} {args:?} failed ({}):\n{printed}", program.display(), output.status);
    eprintln!("{} {args:?}: passed in {:.1} s", program.display(), started.elapsed().as_secs_f64());
    Ok(printed)
}

/// The count after `label` in a test runner's summary (`# pass 9`, `9 passed`).
pub(crate) fn count_after(printed: &str, label: &str) -> Option<u32> {
    printed.lines().find_map(|line| {
        let line = line.trim();
        line.strip_prefix(label).and_then(|rest| rest.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_sdk_passes_its_tests_against_the_stack() -> Result<()> {
    let printed = run_suite(Path::new("npm"), &["test", "--workspace", "@cinema/client"], &[]).await?;
    let (passed, failed) = (count_after(&printed, "# pass"), count_after(&printed, "# fail"));
    ensure!(passed.is_some_and(|n| n >= 15) && failed == Some(0), "passed {passed:?}, failed {failed:?}:\n{printed}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_passes_its_tests_against_the_stack() -> Result<()> {
    let python = cinema_tests::tools::tools_dir().join("bin").join("python");
    let src = cinema_tests::repo_root().join("sdk/python/src").display().to_string();
    let printed = run_suite(
        &python,
        &["-m", "pytest", "-q", "-p", "no:cacheprovider", "sdk/python/tests"],
        &[("PYTHONPATH", src)],
    )
    .await?;
    let summary = printed.lines().rev().find(|l| l.contains(" passed")).unwrap_or_default();
    ensure!(!summary.contains("failed") && !summary.contains("skipped"), "{summary}");
    Ok(())
}
