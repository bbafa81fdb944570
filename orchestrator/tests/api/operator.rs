//! SagaOperatorService: the timeline, RetryNow and ForceCompensate.

use std::time::{Duration, Instant};

use cinema_proto::booking::v1::{self as pb, OperatorActionKind, StepOutcome};
use cinema_proto::common::v1::BookingStatus;
use tonic::Code;

use cinema_mesh::identity::Identity;

use crate::helpers::{operator_request, ops_lee, reason, spawn_app, violated_fields};

fn seconds_from_now(t: &prost_types::Timestamp) -> i64 {
    t.seconds - chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeline_lists_every_failed_attempt_in_order() {
    let app = spawn_app(|_| {}).await;
    let booking = app.book("corr-timeline-1").await;

    let timeline = app.timeline_until(&booking.booking_number, |t| t.steps.len() >= 3).await;

    assert_eq!(timeline.booking_number, booking.booking_number);
    assert_eq!(timeline.state, "CREATING_RESERVATION");
    assert_eq!(timeline.status(), BookingStatus::Pending);
    assert_eq!(timeline.correlation_id, "corr-timeline-1");
    assert!(!timeline.terminal && !timeline.compensating);
    assert!(!timeline.request_id.is_empty() && timeline.created_at.is_some() && timeline.next_run_at.is_some());
    assert!(timeline.audit.is_empty());
    for (i, step) in timeline.steps.iter().enumerate() {
        assert_eq!((step.state.as_str(), step.step.as_str()), ("CREATING_RESERVATION", "create-reservation"));
        assert_eq!(step.attempt, i as i32 + 1, "attempts count up: {:?}", timeline.steps);
        assert_eq!(step.outcome(), StepOutcome::TransientError, "{step:?}");
        assert!(step.error.starts_with("Unavailable"), "{step:?}");
        assert_eq!(step.correlation_id, "corr-timeline-1");
        assert!(!step.runner.is_empty() && uuid::Uuid::parse_str(&step.lease_token).is_ok(), "{step:?}");
        assert!(step.next_state.is_empty(), "a retried step goes nowhere: {step:?}");
        assert!(step.started_at.is_some() && step.duration.is_some(), "{step:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_name_every_field_and_unknown_bookings_are_not_found() {
    let app = spawn_app(|_| {}).await;

    let status = app.timeline("BK-not-a-number").await.unwrap_err();
    assert_eq!(violated_fields(&status), ["booking_number"]);
    let status = app.operator.clone().retry_now(ops_lee().request(operator_request("", " "))).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["booking_number", "reason"]);
    let long = "x".repeat(501);
    let status =
        app.operator.clone().force_compensate(ops_lee().request(operator_request("nope", &long))).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["booking_number", "reason"]);

    let unknown = "BK0000000000AA";
    // Without the `operator` role (a customer), or without any identity: refused
    // before anything is looked at.
    let kim = Identity::customer("kim");
    let timeline = pb::GetSagaTimelineRequest { booking_number: unknown.into() };
    for status in [
        app.operator.clone().get_saga_timeline(kim.request(timeline.clone())).await.unwrap_err(),
        app.operator.clone().retry_now(kim.request(operator_request(unknown, "stuck"))).await.unwrap_err(),
        app.operator.clone().force_compensate(kim.request(operator_request(unknown, "stuck"))).await.unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert_eq!(reason(&status).as_deref(), Some("ROLE_REQUIRED"));
    }
    let status = app.operator.clone().get_saga_timeline(timeline).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = app.operator.clone().retry_now(operator_request(unknown, "stuck")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    for status in [
        app.timeline(unknown).await.unwrap_err(),
        app.retry_now(unknown, "stuck").await.unwrap_err(),
        app.force_compensate(unknown, "stuck").await.unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(reason(&status).as_deref(), Some("BOOKING_NOT_FOUND"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_now_runs_a_backed_off_saga_at_once_and_is_audited() {
    // The first retry waits at least a minute.
    let app = spawn_app(|c| {
        c.backoff_base_ms = 60_000;
        c.backoff_cap_ms = 120_000;
    })
    .await;
    let booking = app.book("corr-retry-1").await;
    let number = booking.booking_number.as_str();
    let before = app.timeline(number).await.unwrap();
    assert_eq!(before.steps.len(), 1, "{before:?}");
    assert!(seconds_from_now(before.next_run_at.as_ref().unwrap()) >= 50, "{before:?}");

    let asked = Instant::now();
    let answer = app.retry_now(number, "reservation is back").await.unwrap();
    let audit = &answer.audit[0];
    assert_eq!(audit.action(), OperatorActionKind::RetryNow);
    assert_eq!((audit.operator.as_str(), audit.reason.as_str()), ("ops-lee", "reservation is back"));
    assert_eq!(
        (audit.state_before.as_str(), audit.state_after.as_str()),
        ("CREATING_RESERVATION", "CREATING_RESERVATION")
    );
    assert!(audit.at.is_some());

    let after = app.timeline_until(number, |t| t.steps.len() >= 2).await;
    let ran = asked.elapsed();
    assert!(ran < Duration::from_secs(5), "the retry ran {ran:?} after RetryNow");
    assert_eq!(after.steps[1].attempt, 2);
    eprintln!("RetryNow: the backed-off step ran {ran:?} after the call");

    // A finished saga has nothing to retry.
    app.execute(&format!(
        "UPDATE sagas SET state = 'REJECTED', lease_token = gen_random_uuid(), lease_until = NULL \
         WHERE booking_number = '{number}'"
    ))
    .await;
    let status = app.retry_now(number, "again").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status).as_deref(), Some("SAGA_FINISHED"));
    assert!(status.message().contains("REJECTED"), "{status:?}");
    assert_eq!(app.timeline(number).await.unwrap().audit.len(), 1, "a refused action is not audited");
}

#[tokio::test(flavor = "multi_thread")]
async fn force_compensate_takes_the_lease_from_a_retrying_runner_and_undoes_the_saga() {
    // The background runner holds the lease between its quick retries.
    let app = spawn_app(|_| {}).await;
    let booking = app.book("corr-force-1").await;
    let number = booking.booking_number.as_str();
    app.timeline_until(number, |t| t.steps.len() >= 3 && t.lease_until.is_some()).await;

    let asked = Instant::now();
    let answer = app.force_compensate(number, "the screening was cancelled").await.unwrap();
    let took = asked.elapsed();
    // Nothing to undo can be reached (the participants are down): it stays undoing.
    assert_eq!(answer.state, "RELEASING", "{answer:?}");
    assert!(answer.compensating && !answer.terminal);
    assert_eq!(answer.status(), BookingStatus::Pending);
    assert_eq!(answer.reason, "the screening was cancelled");
    let audit = &answer.audit[0];
    assert_eq!(audit.action(), OperatorActionKind::ForceCompensate);
    assert_eq!((audit.state_before.as_str(), audit.state_after.as_str()), ("CREATING_RESERVATION", "RELEASING"));
    assert_eq!(audit.operator, "ops-lee");
    assert!(took < Duration::from_secs(3), "ForceCompensate took {took:?}");
    eprintln!("ForceCompensate: took the lease and moved the saga in {took:?}");
    // The compensation runs under the lease taken: the release (seats may have been held
    // beside the reservation) is attempted next.
    let after = app.timeline_until(number, |t| t.steps.iter().any(|s| s.state == "RELEASING")).await;
    let first_undo = after.steps.iter().position(|s| s.state == "RELEASING").unwrap();
    assert!(after.steps[..first_undo].iter().all(|s| s.state == "CREATING_RESERVATION"));
    assert_eq!(after.steps[first_undo].attempt, 1, "the compensation starts its own count");

    // Already undoing: say so.
    let status = app.force_compensate(number, "twice").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status).as_deref(), Some("ALREADY_COMPENSATING"));
    // Finished: say so.
    app.execute(&format!(
        "UPDATE sagas SET state = 'CONFIRMED', lease_token = gen_random_uuid(), lease_until = NULL \
         WHERE booking_number = '{number}'"
    ))
    .await;
    let status = app.force_compensate(number, "too late").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status).as_deref(), Some("SAGA_FINISHED"));
    assert_eq!(app.timeline(number).await.unwrap().audit.len(), 1);
}
