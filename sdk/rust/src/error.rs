//! What a refused call means, read from the gRPC status and its `google.rpc` details.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// One field of a request that was refused, and why (`google.rpc.BadRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's name in the request message, e.g. `seat_ids`.
    pub field: String,
    pub description: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was malformed; nothing changed. Each violation names a field.
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String, violations: Vec<FieldViolation> },
    /// No token, or an expired or invalid one: sign in (again).
    #[error("sign-in required: {message}")]
    Unauthenticated { message: String },
    /// Signed in, but not allowed (someone else's account, a missing role).
    #[error("permission denied: {message}")]
    PermissionDenied { message: String, reason: Option<String> },
    /// Unknown — or someone else's booking, which is answered the same way.
    #[error("not found: {message}")]
    NotFound { message: String, reason: Option<String> },
    /// Refused by the state of things (`FAILED_PRECONDITION`, `ALREADY_EXISTS`,
    /// `ABORTED`): a seat taken, a booking that cannot be cancelled; `reason` says which.
    #[error("refused: {message}")]
    Refused { code: Code, message: String, reason: Option<String> },
    /// The screening (or the whole system) is too busy; come back after `retry_after`.
    #[error("busy: {message}")]
    Busy { message: String, retry_after: Option<Duration> },
    /// The gateway or a service could not be reached, `attempts` times.
    #[error("unavailable after {attempts} attempt(s): {message}")]
    Unavailable { message: String, attempts: u32 },
    /// Any other status.
    #[error("{}: {}", .0.code(), .0.message())]
    Other(Box<Status>),
    /// The client was set up with something unusable (a bad URL or token).
    #[error("invalid client setting: {0}")]
    Config(String),
}

impl Error {
    /// The gRPC code this error stands for.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } | Error::Config(_) => Code::InvalidArgument,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::NotFound { .. } => Code::NotFound,
            Error::Refused { code, .. } => *code,
            Error::Busy { .. } => Code::ResourceExhausted,
            Error::Unavailable { .. } => Code::Unavailable,
            Error::Other(status) => status.code(),
        }
    }

    /// The machine-readable reason (`google.rpc.ErrorInfo.reason`), e.g. `SEAT_TAKEN`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied { reason, .. } | Error::NotFound { reason, .. } | Error::Refused { reason, .. } => {
                reason.as_deref()
            }
            _ => None,
        }
    }

    /// The fields that were refused (empty unless [`Error::InvalidArgument`]).
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Error::InvalidArgument { violations, .. } => violations,
            _ => &[],
        }
    }

    /// When the server asked to be called again (`google.rpc.RetryInfo`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Busy { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth sending again unchanged: unreachable, or busy with a time to come back.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Busy { retry_after: Some(_), .. })
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let message = status.message().to_owned();
        let reason = details.error_info().map(|info| info.reason.clone()).filter(|r| !r.is_empty());
        match status.code() {
            Code::InvalidArgument => Error::InvalidArgument {
                message,
                violations: details
                    .bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .iter()
                            .map(|v| FieldViolation { field: v.field.clone(), description: v.description.clone() })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Code::Unauthenticated => Error::Unauthenticated { message },
            Code::PermissionDenied => Error::PermissionDenied { message, reason },
            Code::NotFound => Error::NotFound { message, reason },
            code @ (Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted) => {
                Error::Refused { code, message, reason }
            }
            Code::ResourceExhausted => Error::Busy {
                message,
                retry_after: details.retry_info().and_then(|info| info.retry_delay).filter(|d| !d.is_zero()),
            },
            Code::Unavailable => Error::Unavailable { message, attempts: 1 },
            _ => Error::Other(Box::new(status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation as Violation};

    use super::*;

    #[test]
    fn field_violations_are_read_from_bad_request() {
        let details = ErrorDetails::with_bad_request(vec![Violation::new("seat_ids", "must name one to ten seats")]);
        let error = Error::from(Status::with_error_details(Code::InvalidArgument, "bad request", details));
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            error.field_violations(),
            [FieldViolation { field: "seat_ids".into(), description: "must name one to ten seats".into() }]
        );
        assert!(!error.is_transient());
    }

    #[test]
    fn busy_carries_its_retry_delay_and_only_then_is_retried() {
        let details = ErrorDetails::with_retry_info(Some(Duration::from_millis(1500)));
        let busy = Error::from(Status::with_error_details(Code::ResourceExhausted, "screening busy", details));
        assert_eq!(busy.retry_after(), Some(Duration::from_millis(1500)));
        assert!(busy.is_transient());
        let quota = Error::from(Status::resource_exhausted("no RetryInfo"));
        assert_eq!(quota.retry_after(), None);
        assert!(!quota.is_transient(), "without a time to come back, busy is final");
    }

    #[test]
    fn a_refusal_keeps_its_reason() {
        let details = ErrorDetails::with_error_info("SEAT_TAKEN", "cinema", []);
        let taken = Error::from(Status::with_error_details(Code::FailedPrecondition, "seat A-1 is taken", details));
        assert_eq!(taken.reason(), Some("SEAT_TAKEN"));
        assert_eq!(taken.code(), Code::FailedPrecondition);
        assert!(matches!(Error::from(Status::unavailable("down")), Error::Unavailable { attempts: 1, .. }));
        assert!(matches!(Error::from(Status::internal("boom")), Error::Other(_)));
    }
}
