//! The operator's use cases (`SagaOperatorService`): read a saga's timeline,
//! run a backed-off saga now, force a forward saga into its compensation.
//!
//! Each action is written to `saga_audit` in the transaction of its effect.
//! ForceCompensate changes the saga's state only under a lease it claimed
//! itself (the runners' claim), so no runner drives the saga meanwhile.

mod grpc;

use std::time::Duration;

use cinema_mesh::store::{Pool, get};
use diesel_async::AsyncConnection;
use tokio::time::Instant;

use crate::runner::Runner;
use crate::saga::State;
use crate::store::{self, AuditRecord, AuditRow, SagaHead, StepRow};

pub use grpc::Api;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("booking {0} does not exist")]
    BookingNotFound(String),
    #[error("booking {number} is {state}: its saga has finished, there is nothing to {action}")]
    Finished { number: String, state: String, action: &'static str },
    #[error("booking {number} is already being undone ({state}); its compensation runs to the end by itself")]
    AlreadyCompensating { number: String, state: String },
    #[error(
        "booking {number}: a charge attempt ended in {detail:?}, so payment may have captured it unseen; \
         compensate once payment has answered the charge (RetryNow)"
    )]
    ChargeOutcomeUnknown { number: String, detail: String },
    #[error("a runner kept the saga of booking {0} busy; try again")]
    Busy(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A saga, every step attempt and every operator action.
pub struct Timeline {
    pub saga: SagaHead,
    pub steps: Vec<StepRow>,
    pub audit: Vec<AuditRow>,
}

/// Who asks for an action on which booking, and why.
#[derive(Clone, Debug)]
pub struct Action {
    pub booking_number: String,
    pub operator: String,
    pub reason: String,
    /// Of the operator's call.
    pub correlation_id: String,
}

#[derive(Clone)]
pub struct Operator {
    pool: Pool,
    runner: Runner,
    /// How long ForceCompensate drives the compensation before answering.
    inline_deadline: Duration,
}

impl Operator {
    pub fn new(pool: Pool, runner: Runner, inline_deadline: Duration) -> Self {
        Self { pool, runner, inline_deadline }
    }

    pub async fn timeline(&self, booking_number: &str) -> Result<Timeline, Error> {
        let mut conn = get(&self.pool).await?;
        conn.transaction::<_, Error, _>(async |c| {
            let saga =
                store::head(c, booking_number).await?.ok_or_else(|| Error::BookingNotFound(booking_number.into()))?;
            let steps = store::steps(c, booking_number).await?;
            let audit = store::audit(c, booking_number).await?;
            Ok(Timeline { saga, steps, audit })
        })
        .await
    }

    /// Makes the saga due now and wakes the runners of this process.
    pub async fn retry_now(&self, action: &Action) -> Result<Timeline, Error> {
        let number = action.booking_number.as_str();
        let mut conn = get(&self.pool).await?;
        conn.transaction::<_, Error, _>(async |c| {
            let Some(saga) = store::make_due(c, number).await? else {
                return Err(match store::head(c, number).await? {
                    None => Error::BookingNotFound(number.into()),
                    Some(saga) => finished(&saga, "retry"),
                });
            };
            store::record_audit(c, audit(action, "RETRY_NOW", &saga.state, &saga.state)).await?;
            Ok(())
        })
        .await?;
        drop(conn);
        tracing::info!(message = "Operator: retry now.", booking_number = %number, operator = %action.operator);
        self.runner.retry_now(number);
        self.timeline(number).await
    }

    /// Claims the saga's lease (asking a runner of this process that holds it
    /// to give it up at its next step boundary, and waiting up to a lease for
    /// any other), moves it into its compensation with the operator's reason,
    /// and drives the compensation up to the inline deadline.
    pub async fn force_compensate(&self, action: &Action) -> Result<Timeline, Error> {
        let number = action.booking_number.as_str();
        let give_up = Instant::now() + self.runner.lease() + Duration::from_secs(1);
        let yielding = self.runner.ask_to_yield(number);
        let mut saga = loop {
            let mut conn = get(&self.pool).await?;
            let head = store::head(&mut conn, number).await?.ok_or_else(|| Error::BookingNotFound(number.into()))?;
            check_abortable(&head)?;
            if let Some(saga) = store::claim(&mut conn, number, self.runner.lease_until()).await? {
                break saga;
            }
            drop(conn);
            if Instant::now() >= give_up {
                return Err(Error::Busy(number.into()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Ours now: no runner drives it until we give the lease back.
        let before = State::parse(&saga.state).unwrap_or(State::CreatingReservation);
        let mut conn = get(&self.pool).await?;
        let refused = match before.abort() {
            None => Some(refusal(number, before)),
            Some(_) if saga.payment_id.is_some() => None,
            Some(_) => uncertain_charge(&store::steps(&mut conn, number).await?)
                .map(|detail| Error::ChargeOutcomeUnknown { number: number.into(), detail }),
        };
        if let Some(refused) = refused {
            store::release(&mut conn, &saga).await?;
            return Err(refused);
        }
        drop(conn);
        let after = before.abort().expect("checked above");
        saga.state = after.as_str().into();
        saga.reason = action.reason.clone();
        saga.attempts = 0;
        let lease = self.runner.lease_until();
        let mut conn = get(&self.pool).await?;
        let kept = conn
            .transaction::<_, Error, _>(async |c| {
                if !store::save(c, &saga, chrono::Utc::now(), Some(lease)).await? {
                    return Ok(false);
                }
                store::record_audit(c, audit(action, "FORCE_COMPENSATE", before.as_str(), after.as_str())).await?;
                Ok(true)
            })
            .await?;
        drop(conn);
        drop(yielding);
        if !kept {
            // Our lease ran out before the write (a very slow database).
            return Err(Error::Busy(number.into()));
        }
        tracing::warn!(
            message = "Operator: force compensate.",
            booking_number = %number,
            operator = %action.operator,
            from = before.as_str(),
            to = after.as_str()
        );
        self.runner.drive(saga, Instant::now() + self.inline_deadline).await?;
        self.timeline(number).await
    }
}

fn audit<'a>(action: &'a Action, kind: &'a str, before: &'a str, after: &'a str) -> AuditRecord<'a> {
    AuditRecord {
        booking_number: &action.booking_number,
        operator: &action.operator,
        action: kind,
        reason: &action.reason,
        state_before: before,
        state_after: after,
        correlation_id: &action.correlation_id,
    }
}

/// A charge attempt that may have captured money without the saga learning
/// its payment id (timed out, or failed inside payment): a refund would then
/// have nothing to refund. Its error, if any.
fn uncertain_charge(steps: &[StepRow]) -> Option<String> {
    const UNCERTAIN: [&str; 4] = ["DeadlineExceeded", "Cancelled", "Unknown", "Internal"];
    steps
        .iter()
        .filter(|s| s.step == crate::saga::Step::Charge.as_str() && s.outcome != "done" && s.outcome != "refused")
        .find(|s| UNCERTAIN.iter().any(|code| s.detail.starts_with(code)))
        .map(|s| s.detail.clone())
}

fn check_abortable(saga: &SagaHead) -> Result<(), Error> {
    match State::parse(&saga.state) {
        Some(state) if state.abort().is_none() => Err(refusal(&saga.booking_number, state)),
        _ => Ok(()),
    }
}

/// Why a saga in `state` cannot be aborted.
fn refusal(number: &str, state: State) -> Error {
    if state.is_terminal() {
        Error::Finished { number: number.into(), state: state.as_str().into(), action: "compensate" }
    } else {
        Error::AlreadyCompensating { number: number.into(), state: state.as_str().into() }
    }
}

fn finished(saga: &SagaHead, action: &'static str) -> Error {
    Error::Finished { number: saga.booking_number.clone(), state: saga.state.clone(), action }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(step: &str, outcome: &str, detail: &str) -> StepRow {
        StepRow {
            state: "CHARGING".into(),
            step: step.into(),
            attempt: 1,
            outcome: outcome.into(),
            detail: detail.into(),
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            runner: "test".into(),
            correlation_id: String::new(),
            lease_token: None,
            next_state: None,
        }
    }

    #[test]
    fn a_charge_that_may_have_gone_through_is_uncertain() {
        let sure = [
            attempt("create-reservation", "transient", "DeadlineExceeded: slow"),
            attempt("charge", "deferred", "Unavailable: connection refused"),
            attempt("charge", "deferred", "ResourceExhausted: overloaded"),
            attempt("charge", "refused", "payment declined: insufficient funds"),
        ];
        assert_eq!(uncertain_charge(&sure), None);
        for detail in ["DeadlineExceeded: timeout", "Cancelled: timeout expired", "Internal: boom"] {
            let steps = [attempt("charge", "deferred", "Unavailable: down"), attempt("charge", "deferred", detail)];
            assert_eq!(uncertain_charge(&steps).as_deref(), Some(detail));
        }
    }
}
