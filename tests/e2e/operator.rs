//! The operator's saga timeline (`SagaOperatorService`, through the gateway with a token
//! that holds the `operator` role): what happened to a booking that had to retry and to one that was
//! compensated; RetryNow runs a backed-off booking at once; ForceCompensate
//! undoes a stuck booking with the operator's reason, leaving nothing charged
//! or held. Each ends with the invariant checker.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use cinema_proto::booking::v1::{
    BookTicketsRequest, BookingResult, GetSagaTimelineRequest, OperatorActionKind, OperatorRequest, PaymentMethod,
    SagaStep, SagaTimeline, StepOutcome, booking_service_client::BookingServiceClient,
    saga_operator_service_client::SagaOperatorServiceClient,
};
use cinema_proto::common::v1::BookingStatus;
use cinema_tests::auth::AuthChannel;
use cinema_tests::invariants::{self, Limits};
use cinema_tests::{Service, StackOptions, poll_until};
use tonic_types::StatusExt as _;

use cinema_mesh::identity::Identity;

use crate::client::{CUSTOMER, TestApp};

/// A movie with one screening whose seat map is ready; returns the screening id.
async fn screening(app: &TestApp, title: &str) -> Result<String> {
    let movie = app.register_movie(title).await?;
    app.schedule(movie["movieId"].as_str().context("movieId")?, 3).await
}

async fn book(
    channel: AuthChannel,
    screening_id: &str,
    seat: &str,
    card: &str,
) -> Result<BookingResult, tonic::Status> {
    let request = BookTicketsRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer_id: String::new(),
        screening_id: screening_id.into(),
        seat_ids: vec![seat.into()],
        payment: Some(PaymentMethod { card_token: card.into() }),
    };
    BookingServiceClient::new(channel).book_tickets(request).await.map(tonic::Response::into_inner)
}

/// The booking number of the stack's only saga, once it exists.
async fn only_saga(app: &TestApp) -> Result<Option<String>> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::Text)]
        booking_number: String,
    }
    let mut conn = AsyncPgConnection::establish(&app.stack.database_url(Service::Orchestrator)).await?;
    let rows: Vec<Number> = diesel::sql_query("SELECT booking_number FROM sagas").load(&mut conn).await?;
    Ok(rows.into_iter().next().map(|r| r.booking_number))
}

/// The operator API through the gateway, as the operator `ops-kim`.
fn operator(app: &TestApp) -> Result<SagaOperatorServiceClient<AuthChannel>> {
    Ok(SagaOperatorServiceClient::new(app.stack.gateway_channel_as(Some(&app.stack.operator_token("ops-kim")))?))
}

async fn timeline(app: &TestApp, number: &str) -> Result<SagaTimeline> {
    let request = GetSagaTimelineRequest { booking_number: number.into() };
    Ok(operator(app)?.get_saga_timeline(request).await?.into_inner())
}

/// Polls the timeline until `done` holds.
async fn timeline_until(app: &TestApp, number: &str, done: impl Fn(&SagaTimeline) -> bool) -> Result<SagaTimeline> {
    poll_until("the saga timeline", Duration::from_secs(30), Duration::from_millis(20), || async {
        Ok(Some(timeline(app, number).await?).filter(|t| done(t)))
    })
    .await
}

fn request(number: &str, reason: &str) -> OperatorRequest {
    OperatorRequest { booking_number: number.into(), reason: reason.into() }
}

/// `(state, step, attempt, outcome, next state)` of every attempt, for exact comparisons.
fn summary(steps: &[SagaStep]) -> Vec<(String, String, i32, StepOutcome, String)> {
    steps.iter().map(|s| (s.state.clone(), s.step.clone(), s.attempt, s.outcome(), s.next_state.clone())).collect()
}

fn ok(state: &str, step: &str, attempt: i32, next: &str) -> (String, String, i32, StepOutcome, String) {
    (state.into(), step.into(), attempt, StepOutcome::Ok, next.into())
}

/// What every step of a timeline says besides its outcome.
fn check_step_details(timeline: &SagaTimeline) -> Result<()> {
    ensure!(!timeline.correlation_id.is_empty(), "{timeline:?}");
    let mut previous = None;
    for step in &timeline.steps {
        ensure!(step.correlation_id == timeline.correlation_id, "{step:?}");
        ensure!(!step.runner.is_empty() && uuid::Uuid::parse_str(&step.lease_token).is_ok(), "{step:?}");
        ensure!(step.duration.is_some(), "{step:?}");
        let started = step.started_at.as_ref().map(|t| (t.seconds, t.nanos)).context("started_at")?;
        ensure!(previous.is_none_or(|p| p <= started), "attempts out of order: {:?}", timeline.steps);
        previous = Some(started);
        ensure!((step.outcome() == StepOutcome::Ok) == step.error.is_empty(), "{step:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeline_shows_the_failed_attempts_of_a_booking_that_waited_for_seats() -> Result<()> {
    let options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_INLINE_DEADLINE_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "500");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "기생충").await?;
    app.stack.stop(Service::Seats)?;

    let answer = book(app.stack.gateway_channel()?, &screening, "C-3", "tok_visa").await?;
    ensure!(answer.status == BookingStatus::Pending as i32, "{answer:?}");
    let number = answer.booking_number;
    // A few failed holds, then seats come back.
    timeline_until(&app, &number, |t| {
        t.steps.iter().filter(|s| s.outcome() == StepOutcome::TransientError).count() >= 3
    })
    .await?;
    app.stack.restart(Service::Seats).await?;
    let done = timeline_until(&app, &number, |t| t.terminal).await?;

    ensure!(done.state == "CONFIRMED" && done.status() == BookingStatus::Confirmed, "{done:?}");
    ensure!(done.reason.is_empty() && !done.compensating && done.audit.is_empty(), "{done:?}");
    check_step_details(&done)?;
    // Exactly: the reservation, every failed hold counting up, the hold, the rest.
    let failed: Vec<&SagaStep> = done.steps.iter().filter(|s| s.outcome() != StepOutcome::Ok).collect();
    let n = failed.len() as i32;
    ensure!(n >= 3, "{:?}", done.steps);
    for step in &failed {
        ensure!(step.outcome() == StepOutcome::TransientError && step.state == "HOLDING_SEATS", "{step:?}");
        ensure!(step.error.starts_with("Unavailable"), "{step:?}");
    }
    let mut expected = vec![ok("CREATING_RESERVATION", "create-reservation", 1, "HOLDING_SEATS")];
    for attempt in 1..=n {
        let failed = ("HOLDING_SEATS".into(), "hold-seats".into(), attempt, StepOutcome::TransientError, String::new());
        expected.push(failed);
    }
    expected.extend([
        ok("HOLDING_SEATS", "hold-seats", n + 1, "CHARGING"),
        ok("CHARGING", "charge", 1, "CONFIRMING_SEATS"),
        ok("CONFIRMING_SEATS", "confirm-seats", 1, "CONFIRMING_RESERVATION"),
        ok("CONFIRMING_RESERVATION", "confirm-reservation", 1, "CONFIRMED"),
    ]);
    ensure!(summary(&done.steps) == expected, "{:#?}", done.steps);
    invariants::check(&app.stack, &Limits::default()).await?;
    eprintln!("timeline of {number}: {n} failed holds, then CONFIRMED ({} attempts)", done.steps.len());
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeline_of_a_declined_booking_shows_its_compensation() -> Result<()> {
    let app = TestApp::spawn().await?;
    let screening = screening(&app, "올드보이").await?;
    let answer = book(app.stack.gateway_channel()?, &screening, "D-5", "tok_decline").await?;
    ensure!(answer.status == BookingStatus::Rejected as i32, "{answer:?}");
    let number = answer.booking_number;

    let done = timeline(&app, &number).await?;
    ensure!(done.state == "REJECTED" && done.terminal && !done.compensating, "{done:?}");
    ensure!(done.reason.contains("declined"), "{done:?}");
    check_step_details(&done)?;
    let declined = ("CHARGING".to_owned(), "charge".to_owned(), 1, StepOutcome::BusinessError, "RELEASING".to_owned());
    let expected = vec![
        ok("CREATING_RESERVATION", "create-reservation", 1, "HOLDING_SEATS"),
        ok("HOLDING_SEATS", "hold-seats", 1, "CHARGING"),
        declined,
        ok("RELEASING", "release-seats", 1, "REJECTING"),
        ok("REJECTING", "reject-reservation", 1, "REJECTED"),
    ];
    ensure!(summary(&done.steps) == expected, "{:#?}", done.steps);
    ensure!(done.steps[2].error.contains("declined"), "{:?}", done.steps[2]);

    // A finished saga: operators are told why nothing can be done.
    for status in [
        operator(&app)?.retry_now(request(&number, "try again")).await.unwrap_err(),
        operator(&app)?.force_compensate(request(&number, "undo")).await.unwrap_err(),
    ] {
        ensure!(status.code() == tonic::Code::FailedPrecondition, "{status:?}");
        ensure!(status.get_details_error_info().is_some_and(|i| i.reason == "SAGA_FINISHED"), "{status:?}");
        ensure!(status.message().contains("REJECTED"), "{status:?}");
    }
    ensure!(timeline(&app, &number).await?.audit.is_empty(), "refusals are not audited");

    // The real grpcurl reaches it through the gateway with an operator's token (as in
    // the README) ...
    let bearer = format!("authorization: Bearer {}", app.stack.operator_token("ops-kim"));
    let output = Command::new(app.stack.grpcurl_path())
        .args(["-plaintext", "-H", &bearer, "-d", &format!("{{\"booking_number\":\"{number}\"}}")])
        .arg(app.stack.gateway_addr())
        .arg("cinema.booking.v1.SagaOperatorService/GetSagaTimeline")
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    ensure!(text.contains("STEP_OUTCOME_BUSINESS_ERROR") && text.contains("\"nextState\": \"RELEASING\""), "{text}");
    // ... but a customer's token is refused by the service, and no token by the gateway.
    for (token, code) in
        [(Some(app.token.as_str()), tonic::Code::PermissionDenied), (None, tonic::Code::Unauthenticated)]
    {
        let mut client = SagaOperatorServiceClient::new(app.stack.gateway_channel_as(token)?);
        let refused = client.get_saga_timeline(GetSagaTimelineRequest { booking_number: number.clone() }).await;
        let status = refused.expect_err("only operators may read a saga's timeline");
        ensure!(status.code() == code, "{status:?}");
    }
    invariants::check(&app.stack, &Limits::default()).await?;
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_now_runs_a_backed_off_booking_at_once() -> Result<()> {
    // After its first failure a saga waits at least a minute.
    let options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_INLINE_DEADLINE_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_BASE_MS", "60000")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "120000");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "살인의 추억").await?;
    app.stack.stop(Service::Seats)?;
    let answer = book(app.stack.gateway_channel()?, &screening, "E-6", "tok_visa").await?;
    ensure!(answer.status == BookingStatus::Pending as i32, "{answer:?}");
    let number = answer.booking_number;
    app.stack.restart(Service::Seats).await?;

    // Seats are back, but the saga sleeps out its backoff.
    let waiting = timeline(&app, &number).await?;
    let failed = summary(&waiting.steps);
    ensure!(failed.len() == 2 && failed[1].3 == StepOutcome::TransientError, "{:#?}", waiting.steps);
    let next_run = waiting.next_run_at.as_ref().context("next_run_at")?;
    let wait = next_run.seconds - chrono::Utc::now().timestamp();
    ensure!(wait >= 50, "the next run is only {wait} s away");

    let asked = Instant::now();
    let after = operator(&app)?.retry_now(request(&number, "seats are back")).await?.into_inner();
    let audit = after.audit.first().context("audited")?;
    ensure!(audit.action() == OperatorActionKind::RetryNow && audit.operator == "ops-kim", "{audit:?}");
    ensure!(audit.reason == "seats are back", "{audit:?}");
    ensure!(audit.state_before == "HOLDING_SEATS" && audit.state_after == "HOLDING_SEATS", "{audit:?}");
    // Well inside the minute the backoff would have taken.
    let done = poll_until("the booking to confirm", Duration::from_secs(20), Duration::from_millis(10), || async {
        Ok(Some(timeline(&app, &number).await?).filter(|t| t.terminal))
    })
    .await?;
    let ran = asked.elapsed();
    ensure!(done.state == "CONFIRMED", "{done:?}");
    let holds: Vec<_> = done.steps.iter().filter(|s| s.state == "HOLDING_SEATS").map(|s| s.outcome()).collect();
    ensure!(holds == [StepOutcome::TransientError, StepOutcome::Ok], "{:#?}", done.steps);
    app.lookup(&number, "BOOKING_STATUS_CONFIRMED").await?;
    invariants::check(&app.stack, &Limits::default()).await?;
    eprintln!("RetryNow: CONFIRMED {ran:?} after the call (the backoff had {wait} s left)");
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn force_compensate_rejects_a_stuck_booking_with_the_operators_reason() -> Result<()> {
    // The saga hangs before charging, its seats held; its lease runs out each second.
    let options = StackOptions::for_tests().service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", "1").service_env(
        Service::Orchestrator,
        "CINEMA_FAILPOINT",
        "before:CHARGING",
    );
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "괴물").await?;
    let channel = app.stack.channel_as(Service::Orchestrator, &Identity::customer(CUSTOMER))?;
    let booking = screening.clone();
    let call = tokio::spawn(async move { book(channel, &booking, "F-2", "tok_visa").await });
    let number = poll_until("the saga", Duration::from_secs(20), Duration::from_millis(20), || only_saga(&app)).await?;
    let log = app.stack.log_path(Service::Orchestrator);
    poll_until("the failpoint", Duration::from_secs(20), Duration::from_millis(20), || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Ok(text.lines().any(|l| l.contains("Failpoint reached") && l.contains(&number)).then_some(()))
    })
    .await?;
    ensure!(app.seat_status(&screening, "F-2").await? == "SEAT_STATUS_HELD");

    let reason = "screen 3 projector is broken; the screening is cancelled";
    let asked = Instant::now();
    let answer = operator(&app)?.force_compensate(request(&number, reason)).await?.into_inner();
    let answered = asked.elapsed();
    let done = timeline_until(&app, &number, |t| t.terminal).await?;
    let rejected = asked.elapsed();
    call.abort();

    ensure!(done.state == "REJECTED" && done.reason == reason, "{done:?}");
    let audit = done.audit.first().context("audited")?;
    ensure!(done.audit.len() == 1 && audit.action() == OperatorActionKind::ForceCompensate, "{:?}", done.audit);
    ensure!(audit.operator == "ops-kim" && audit.reason == reason, "{audit:?}");
    ensure!(audit.state_before == "CHARGING" && audit.state_after == "REFUNDING", "{audit:?}");
    check_step_details(&done)?;
    // Never charged: the compensation refunds nothing, releases the hold, rejects.
    let expected = vec![
        ok("CREATING_RESERVATION", "create-reservation", 1, "HOLDING_SEATS"),
        ok("HOLDING_SEATS", "hold-seats", 1, "CHARGING"),
        ok("REFUNDING", "refund", 1, "RELEASING"),
        ok("RELEASING", "release-seats", 1, "REJECTING"),
        ok("REJECTING", "reject-reservation", 1, "REJECTED"),
    ];
    ensure!(summary(&done.steps) == expected, "{:#?}", done.steps);
    let view = app.lookup(&number, "BOOKING_STATUS_REJECTED").await?;
    ensure!(view["reason"] == reason, "{view}");
    ensure!(app.seat_status(&screening, "F-2").await? == "SEAT_STATUS_AVAILABLE");
    let charged = format!("SELECT count(*) AS n FROM payments WHERE booking_number = '{number}'");
    ensure!(app.count(Service::Payment, &charged).await? == 0, "nothing may be charged");
    invariants::check(&app.stack, &Limits::default()).await?;
    eprintln!("ForceCompensate: answered {} in {answered:?}, REJECTED {rejected:?} after the call", answer.state);
    app.stack.shutdown().await
}
