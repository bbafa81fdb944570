//! The gRPC face of BookingService: parse, run on a spawned task (a caller
//! that goes away must not cut a saga step half-way), answer. Every error
//! becomes a status here and only here.

use cinema_mesh::identity::Identity;
use cinema_mesh::status::{internal, invalid_argument, unexpected, with_reason};
use cinema_mesh::{correlation, time};
use cinema_proto::booking::v1 as pb;
use cinema_proto::common::v1::Money;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};
use tracing::Instrument as _;

use crate::domain::BookRequest;
use crate::saga::State;
use crate::service::{Error, Service};
use crate::store::SagaRow;

pub struct Api {
    service: Service,
}

impl Api {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::booking_service_server::BookingService for Api {
    async fn book_tickets(
        &self,
        request: Request<pb::BookTicketsRequest>,
    ) -> Result<Response<pb::BookingResult>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        // The booking's customer is the signed-in one; `customer_id`, when given, must agree.
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        if !req.customer_id.is_empty() {
            customer.require_self(&req.customer_id)?;
        }
        let token = req.payment.as_ref().map(|p| p.card_token.as_str());
        let parsed = BookRequest::parse(&req.request_id, customer.subject(), &req.screening_id, &req.seat_ids, token);
        let request = parsed.or_else(|violations| violations.check(None).map(|_: Option<()>| unreachable!()))?;
        let service = self.service.clone();
        let saga = spawn(async move { service.book(request, &correlation_id).await }).await?;
        Ok(Response::new(result_of(saga)))
    }

    async fn cancel_booking(
        &self,
        request: Request<pb::CancelBookingRequest>,
    ) -> Result<Response<pb::BookingResult>, Status> {
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        if req.booking_number.is_empty() {
            return Err(invalid_argument("booking_number", "is required"));
        }
        if !crate::domain::is_booking_number(&req.booking_number) {
            return Err(invalid_argument("booking_number", "is not a booking number like BK7Q2M9XK4D1HV"));
        }
        if req.reason.chars().count() > 500 || req.reason.chars().any(char::is_control) {
            return Err(invalid_argument("reason", "must be at most 500 printable characters"));
        }
        let service = self.service.clone();
        let saga =
            spawn(async move { service.cancel(&req.booking_number, &req.reason, customer.subject()).await }).await?;
        Ok(Response::new(result_of(saga)))
    }
}

/// Runs `work` on its own task, inside the call's span (so its logs and the
/// participants' spans stay in the call's trace).
async fn spawn(work: impl Future<Output = Result<SagaRow, Error>> + Send + 'static) -> Result<SagaRow, Status> {
    match tokio::spawn(work.instrument(tracing::Span::current())).await {
        Ok(result) => result.map_err(to_status),
        Err(join) => Err(internal(&anyhow::anyhow!("task failed: {join}"))),
    }
}

fn result_of(saga: SagaRow) -> pb::BookingResult {
    let state = State::parse(&saga.state).unwrap_or(State::CreatingReservation);
    let holding = matches!(
        state,
        State::Charging
            | State::MarkingAwaitingPayment
            | State::AwaitingPayment
            | State::ConfirmingSeats
            | State::ConfirmingReservation
    );
    pb::BookingResult {
        booking_number: saga.booking_number,
        status: state.status().into(),
        reason: saga.reason,
        seat_ids: saga.seat_ids,
        amount: saga.amount.map(|amount| Money { currency: saga.currency.unwrap_or_default(), amount }),
        payment_id: saga.payment_id.unwrap_or_default(),
        hold_expires_at: saga.hold_expires_at.filter(|_| holding).map(time::to_proto),
    }
}

fn to_status(error: Error) -> Status {
    let message = error.to_string();
    match error {
        Error::ScreeningNotFound(_) => with_reason(Code::NotFound, "SCREENING_NOT_FOUND", message),
        Error::UnknownSeats(_) => invalid_argument("seat_ids", message),
        Error::RequestIdReused(_) => with_reason(Code::AlreadyExists, "REQUEST_ID_REUSED", message),
        Error::Busy { retry_after, .. } => busy(message, retry_after),
        Error::BookingNotFound(_) => with_reason(Code::NotFound, "BOOKING_NOT_FOUND", message),
        Error::NotCancellable { .. } => with_reason(Code::FailedPrecondition, "NOT_CANCELLABLE", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}

/// RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` (when to come back) and the
/// reason `SCREENING_BUSY`; Envoy answers REST clients 429.
fn busy(message: String, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info("SCREENING_BUSY", cinema_mesh::status::DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(Code::ResourceExhausted, message, details)
}
