//! The gRPC face of `SagaOperatorService`: parse, run on a spawned task (an
//! operator who goes away must not cut a transition half-way), answer. Every
//! error becomes a status here and only here. Every call needs the `operator`
//! role; the token's `sub` is the operator the audit records.

use cinema_mesh::identity::{Identity, Role};
use cinema_mesh::status::{Violations, internal, unexpected, with_reason};
use cinema_mesh::{correlation, time};
use cinema_proto::booking::v1 as pb;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument as _;

use super::{Action, Error, Operator, Timeline};
use crate::domain::is_booking_number;
use crate::saga::State;

pub struct Api {
    operator: Operator,
}

impl Api {
    pub fn new(operator: Operator) -> Self {
        Self { operator }
    }
}

#[tonic::async_trait]
impl pb::saga_operator_service_server::SagaOperatorService for Api {
    async fn get_saga_timeline(
        &self,
        request: Request<pb::GetSagaTimelineRequest>,
    ) -> Result<Response<pb::SagaTimeline>, Status> {
        Identity::with_role(request.metadata(), Role::Operator)?;
        let number = request.into_inner().booking_number;
        let mut v = Violations::default();
        check_booking_number(&mut v, &number);
        v.check(())?;
        let timeline = self.operator.timeline(&number).await.map_err(to_status)?;
        Ok(Response::new(timeline_of(timeline)))
    }

    async fn retry_now(&self, request: Request<pb::OperatorRequest>) -> Result<Response<pb::SagaTimeline>, Status> {
        let action = parse(request)?;
        let operator = self.operator.clone();
        let timeline = spawn(async move { operator.retry_now(&action).await }).await?;
        Ok(Response::new(timeline_of(timeline)))
    }

    async fn force_compensate(
        &self,
        request: Request<pb::OperatorRequest>,
    ) -> Result<Response<pb::SagaTimeline>, Status> {
        let action = parse(request)?;
        let operator = self.operator.clone();
        let timeline = spawn(async move { operator.force_compensate(&action).await }).await?;
        Ok(Response::new(timeline_of(timeline)))
    }
}

fn check_booking_number(v: &mut Violations, raw: &str) {
    if raw.is_empty() {
        v.add("booking_number", "is required");
    } else if !is_booking_number(raw) {
        v.add("booking_number", format!("{raw:?} is not a booking number like BK7Q2M9XK4D1HV"));
    }
}

/// The operator (the token's `sub`), then every field violation at once.
fn parse(request: Request<pb::OperatorRequest>) -> Result<Action, Status> {
    let operator = Identity::with_role(request.metadata(), Role::Operator)?;
    let correlation_id = correlation::from_metadata(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::default();
    check_booking_number(&mut v, &req.booking_number);
    let mut text = |field: &str, raw: &str, max: usize| {
        if raw.trim().is_empty() {
            v.add(field, "is required");
        } else if raw.chars().count() > max || raw.chars().any(char::is_control) {
            v.add(field, format!("must be at most {max} printable characters"));
        }
    };
    text("reason", &req.reason, 500);
    v.check(Action {
        booking_number: req.booking_number,
        operator: operator.subject().to_owned(),
        reason: req.reason.trim().to_owned(),
        correlation_id,
    })
}

/// Runs `work` on its own task, inside the call's span.
async fn spawn(work: impl Future<Output = Result<Timeline, Error>> + Send + 'static) -> Result<Timeline, Status> {
    match tokio::spawn(work.instrument(tracing::Span::current())).await {
        Ok(result) => result.map_err(to_status),
        Err(join) => Err(internal(&anyhow::anyhow!("task failed: {join}"))),
    }
}

fn timeline_of(t: Timeline) -> pb::SagaTimeline {
    let state = State::parse(&t.saga.state);
    let terminal = state.is_some_and(State::is_terminal);
    pb::SagaTimeline {
        booking_number: t.saga.booking_number,
        status: state.map(State::status).unwrap_or_default().into(),
        state: t.saga.state,
        reason: t.saga.reason,
        request_id: t.saga.request_id,
        correlation_id: t.saga.correlation_id,
        created_at: Some(time::to_proto(t.saga.created_at)),
        updated_at: Some(time::to_proto(t.saga.updated_at)),
        terminal,
        compensating: state.is_some_and(State::is_compensating),
        attempts: t.saga.attempts,
        next_run_at: (!terminal).then(|| time::to_proto(t.saga.next_run_at)),
        lease_until: t.saga.lease_until.filter(|until| *until > chrono::Utc::now()).map(time::to_proto),
        steps: t
            .steps
            .into_iter()
            .map(|s| pb::SagaStep {
                outcome: outcome(&s.outcome).into(),
                error: if s.outcome == "done" { String::new() } else { s.detail },
                started_at: Some(time::to_proto(s.started_at)),
                duration: (s.finished_at - s.started_at).to_std().ok().and_then(|d| d.try_into().ok()),
                state: s.state,
                step: s.step,
                attempt: s.attempt,
                correlation_id: s.correlation_id,
                runner: s.runner,
                lease_token: s.lease_token.map(|t| t.to_string()).unwrap_or_default(),
                next_state: s.next_state.unwrap_or_default(),
            })
            .collect(),
        audit: t
            .audit
            .into_iter()
            .map(|a| pb::OperatorAction {
                action: match a.action.as_str() {
                    "RETRY_NOW" => pb::OperatorActionKind::RetryNow,
                    "FORCE_COMPENSATE" => pb::OperatorActionKind::ForceCompensate,
                    _ => pb::OperatorActionKind::Unspecified,
                }
                .into(),
                operator: a.operator,
                reason: a.reason,
                state_before: a.state_before,
                state_after: a.state_after,
                at: Some(time::to_proto(a.at)),
                correlation_id: a.correlation_id,
            })
            .collect(),
    }
}

/// The runner's outcome names (`saga_steps.outcome`); `retry` is the name
/// before transient and bug retries were told apart.
fn outcome(stored: &str) -> pb::StepOutcome {
    match stored {
        "done" => pb::StepOutcome::Ok,
        "refused" => pb::StepOutcome::BusinessError,
        "transient" | "retry" => pb::StepOutcome::TransientError,
        "bug" => pb::StepOutcome::Bug,
        "deferred" => pb::StepOutcome::Deferred,
        "expired" => pb::StepOutcome::HoldExpired,
        _ => pb::StepOutcome::Unspecified,
    }
}

fn to_status(error: Error) -> Status {
    let message = error.to_string();
    match error {
        Error::BookingNotFound(_) => with_reason(Code::NotFound, "BOOKING_NOT_FOUND", message),
        Error::Finished { .. } => with_reason(Code::FailedPrecondition, "SAGA_FINISHED", message),
        Error::AlreadyCompensating { .. } => with_reason(Code::FailedPrecondition, "ALREADY_COMPENSATING", message),
        Error::ChargeOutcomeUnknown { .. } => with_reason(Code::FailedPrecondition, "CHARGE_OUTCOME_UNKNOWN", message),
        Error::Busy(_) => with_reason(Code::Aborted, "SAGA_BUSY", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}
