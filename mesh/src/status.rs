//! The ways a service says no, with machine-readable details
//! (`google.rpc.BadRequest` field violations, `google.rpc.ErrorInfo` reasons),
//! which Envoy renders as JSON for REST clients.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

pub const DOMAIN: &str = "cinema";

/// Collects field violations while parsing a request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Adds a violation. A description longer than [`MAX_DESCRIPTION`] characters (one that
    /// quotes a huge input back) is cut there: the answer stays small.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        let (field, description) = (field.into(), description.into());
        self.0.push(FieldViolation::new(cut(field), cut(description)));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was violated, else INVALID_ARGUMENT listing every violation.
    pub fn check<T>(self, value: T) -> Result<T, Status> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let message = self.0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; ");
        Err(Status::with_error_details(Code::InvalidArgument, message, ErrorDetails::with_bad_request(self.0)))
    }
}

/// The longest field name or description a violation carries, in characters.
pub const MAX_DESCRIPTION: usize = 256;

fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_DESCRIPTION) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// INVALID_ARGUMENT for one field.
pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let mut violations = Violations::default();
    violations.add(field, description);
    violations.check(()).expect_err("one violation was added")
}

/// A refusal the caller can act on: `reason` is stable (e.g. `SEAT_TAKEN`).
pub fn with_reason(code: Code, reason: &str, message: impl Into<String>) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, DOMAIN, std::collections::HashMap::new()),
    )
}

/// The `ErrorInfo` reason of a status, if it carries one.
pub fn reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// A failure the caller did not cause (a service's `Error::Unexpected`): UNAVAILABLE
/// with the reason `DATABASE_UNAVAILABLE` when the service's database is out of reach
/// ([`crate::store::is_unavailable`]: down, restarting, the pool waiting in vain), so
/// that clients and the saga retry; else [`internal`]. Logged here with its cause.
pub fn unexpected(error: &anyhow::Error) -> Status {
    if crate::store::is_unavailable(error) {
        tracing::warn!(message = "Database unavailable.", error = format!("{error:#}"));
        return with_reason(Code::Unavailable, DATABASE_UNAVAILABLE, "database unavailable, retry");
    }
    internal(error)
}

/// The `ErrorInfo` reason of [`unexpected`]'s UNAVAILABLE.
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";

/// An internal failure: logged here with its cause, opaque to the client.
pub fn internal(error: &anyhow::Error) -> Status {
    tracing::error!(message = "Request failed.", error = format!("{error:#}"));
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_anything_else_internal() {
        use deadpool::managed::{PoolError, TimeoutType};
        let waited = PoolError::<diesel_async::pooled_connection::PoolError>::Timeout(TimeoutType::Wait);
        let status = unexpected(&anyhow::Error::new(waited).context("get a database connection"));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "database unavailable, retry");
        assert_eq!(reason(&status).as_deref(), Some(DATABASE_UNAVAILABLE));

        let bug = unexpected(&anyhow::anyhow!("unknown saga state FOO"));
        assert_eq!((bug.code(), bug.message()), (Code::Internal, "internal error"));
        let not_found = unexpected(&anyhow::Error::new(diesel::result::Error::NotFound).context("load"));
        assert_eq!(not_found.code(), Code::Internal);
    }
}
