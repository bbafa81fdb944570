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

/// An internal failure: logged here with its cause, opaque to the client.
pub fn internal(error: &anyhow::Error) -> Status {
    tracing::error!(message = "Request failed.", error = format!("{error:#}"));
    Status::internal("internal error")
}
