//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use cinema_mesh::identity::{Identity, Role};
use cinema_mesh::status::{Violations, unexpected, with_reason};
use cinema_mesh::{correlation, time};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::reservation::v1 as pb;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::domain::{self, BookingNumber, CustomerId, PageToken, SeatIds, Status as BookingState};
use crate::service::{Confirmation, Error, Service, record_to_proto};

/// `ReservationService`: the orchestrator's commands.
pub struct ReservationApi {
    service: Service,
}

impl ReservationApi {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

/// `BookingQueryService`: what customers read.
pub struct QueryApi {
    service: Service,
}

impl QueryApi {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::reservation_service_server::ReservationService for ReservationApi {
    async fn create_reservation(
        &self,
        request: Request<pb::CreateReservationRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let number = parse_number(&req.booking_number, &mut violations);
        let customer_id = CustomerId::parse(&req.customer_id).map_err(|e| violations.add("customer_id", e)).ok();
        let screening_id = parse_uuid(&req.screening_id, "screening_id", &mut violations);
        let seat_ids = SeatIds::parse(req.seat_ids).map_err(|e| violations.add("seat_ids", e)).ok();
        let (Some(number), Some(customer_id), Some(screening_id), Some(seat_ids)) =
            violations.check((number, customer_id, screening_id, seat_ids))?
        else {
            unreachable!("no violations means every field parsed")
        };
        let row = self
            .service
            .create(number, customer_id, screening_id, seat_ids, &correlation_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }

    async fn confirm_reservation(
        &self,
        request: Request<pb::ConfirmReservationRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let number = parse_number(&req.booking_number, &mut violations);
        match req.payment_id.chars().count() {
            0 => violations.add("payment_id", "is required"),
            1..=100 => {}
            _ => violations.add("payment_id", "must be at most 100 characters"),
        }
        let amount = match &req.amount {
            None => {
                violations.add("amount", "is required");
                None
            }
            Some(m) if m.currency.len() != 3 || !m.currency.chars().all(|c| c.is_ascii_uppercase()) => {
                violations.add("amount", "currency must be an ISO 4217 code like KRW");
                None
            }
            Some(m) if m.amount < 0 => {
                violations.add("amount", "amount must not be negative");
                None
            }
            Some(m) => Some(m.clone()),
        };
        let starts_at = match req.starts_at.as_ref().map(time::from_proto) {
            None => None,
            Some(None) => {
                violations.add("starts_at", "is out of range");
                None
            }
            Some(some) => some,
        };
        let (Some(number), Some(amount)) = violations.check((number, amount))? else {
            unreachable!("no violations means every field parsed")
        };
        let confirmation = Confirmation {
            payment_id: req.payment_id,
            currency: amount.currency,
            amount: amount.amount,
            movie_title: Some(req.movie_title).filter(|s| !s.is_empty()),
            screen_name: Some(req.screen_name).filter(|s| !s.is_empty()),
            starts_at,
        };
        let row = self.service.confirm(&number, confirmation, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }

    async fn reject_reservation(
        &self,
        request: Request<pb::RejectReservationRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let number = parse_number(&req.booking_number, &mut violations);
        let to = match BookingStatus::try_from(req.status) {
            Ok(BookingStatus::Unspecified | BookingStatus::Rejected) => Some(BookingState::Rejected),
            Ok(BookingStatus::Expired) => Some(BookingState::Expired),
            _ => {
                violations.add("status", "must be REJECTED or EXPIRED");
                None
            }
        };
        let reason = domain::reason(&req.reason).map_err(|e| violations.add("reason", e)).ok();
        let (Some(number), Some(to), Some(reason)) = violations.check((number, to, reason))? else {
            unreachable!("no violations means every field parsed")
        };
        let row = self.service.reject(&number, to, reason, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }

    async fn await_payment(&self, request: Request<pb::AwaitPaymentRequest>) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let (number, reason) =
            parse_cancel(pb::CancelReservationRequest { booking_number: req.booking_number, reason: req.reason })?;
        let row = self.service.await_payment(&number, &reason, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }

    async fn begin_cancellation(
        &self,
        request: Request<pb::CancelReservationRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let (number, reason) = parse_cancel(request.into_inner())?;
        let row = self.service.begin_cancellation(&number, &reason, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }

    async fn cancel_reservation(
        &self,
        request: Request<pb::CancelReservationRequest>,
    ) -> Result<Response<pb::Booking>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let (number, reason) = parse_cancel(request.into_inner())?;
        let row = self.service.cancel(&number, &reason, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(record_to_proto(row)))
    }
}

/// The booking number and reason of a status change request.
fn parse_cancel(req: pb::CancelReservationRequest) -> Result<(BookingNumber, String), Status> {
    let mut violations = Violations::default();
    let number = parse_number(&req.booking_number, &mut violations);
    let reason = domain::reason(&req.reason).map_err(|e| violations.add("reason", e)).ok();
    let (Some(number), Some(reason)) = violations.check((number, reason))? else {
        unreachable!("no violations means every field parsed")
    };
    Ok((number, reason.to_owned()))
}

#[tonic::async_trait]
impl pb::booking_query_service_server::BookingQueryService for QueryApi {
    type WatchBookingStream = BoxStream<'static, Result<pb::Booking, Status>>;

    async fn get_booking(&self, request: Request<pb::GetBookingRequest>) -> Result<Response<pb::Booking>, Status> {
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let number = parse_number(&req.booking_number, &mut violations);
        let Some(number) = violations.check(number)? else { unreachable!("checked") };
        let booking = self.service.read(&number, req.min_version).await.map_err(to_status)?;
        owned_by(&customer, &number, booking).map(Response::new)
    }

    async fn watch_booking(
        &self,
        request: Request<pb::WatchBookingRequest>,
    ) -> Result<Response<Self::WatchBookingStream>, Status> {
        let customer = Identity::required(request.metadata())?;
        let mut violations = Violations::default();
        let number = parse_number(&request.into_inner().booking_number, &mut violations);
        let Some(number) = violations.check(number)? else { unreachable!("checked") };
        // Someone else's booking is not found, before anything is streamed.
        owned_by(&customer, &number, self.service.read(&number, 0).await.map_err(to_status)?)?;
        let updates = self.service.watch(number).await.map_err(to_status)?;
        let stream = ReceiverStream::new(updates).map(Ok).boxed();
        Ok(Response::new(stream))
    }

    async fn list_bookings(
        &self,
        request: Request<pb::ListBookingsRequest>,
    ) -> Result<Response<pb::ListBookingsResponse>, Status> {
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let customer_id = CustomerId::parse(&req.customer_id).map_err(|e| violations.add("customer_id", e)).ok();
        let after = match req.page_token.as_str() {
            "" => None,
            raw => PageToken::parse(raw).map_err(|e| violations.add("page_token", e)).ok(),
        };
        let (Some(customer_id), after) = violations.check((customer_id, after))? else {
            unreachable!("no violations means every field parsed")
        };
        customer.require_self(&req.customer_id)?;
        let page = self.service.list(&customer_id, after, domain::page_size(req.page_size)).await.map_err(to_status)?;
        Ok(Response::new(pb::ListBookingsResponse {
            bookings: page.bookings.into_iter().map(record_to_proto).collect(),
            next_page_token: page.next.map(|t| t.encode()).unwrap_or_default(),
        }))
    }
}

/// `BookingViewAdmin`: operators rebuild the view.
pub struct AdminApi {
    service: Service,
}

impl AdminApi {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::booking_view_admin_server::BookingViewAdmin for AdminApi {
    async fn rebuild_view(
        &self,
        request: Request<pb::RebuildViewRequest>,
    ) -> Result<Response<pb::RebuildViewResponse>, Status> {
        let operator = Identity::with_role(request.metadata(), Role::Operator)?;
        let bucket = request.into_inner().bucket;
        tracing::info!(message = "View rebuild requested.", operator = operator.subject(), %bucket);
        let mut violations = Violations::default();
        if !(bucket.is_empty()
            || (bucket.len() <= 64 && bucket.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')))
        {
            violations.add("bucket", "must be at most 64 letters, digits, '-' or '_'");
        }
        violations.check(())?;
        let (bucket, rebuilt) =
            self.service.rebuild_view(Some(bucket.as_str()).filter(|b| !b.is_empty())).await.map_err(to_status)?;
        Ok(Response::new(pb::RebuildViewResponse {
            bucket,
            events_read: rebuilt.events_read,
            bookings: rebuilt.bookings,
            entries_changed: rebuilt.entries_changed,
        }))
    }
}

/// The booking, when it is `customer`'s; someone else's is not found (numbers leak nothing).
fn owned_by(customer: &Identity, number: &BookingNumber, booking: pb::Booking) -> Result<pb::Booking, Status> {
    if booking.customer_id == customer.subject() {
        return Ok(booking);
    }
    Err(to_status(Error::BookingNotFound(number.as_str().to_owned())))
}

fn parse_number(raw: &str, violations: &mut Violations) -> Option<BookingNumber> {
    BookingNumber::parse(raw).map_err(|e| violations.add("booking_number", e)).ok()
}

fn parse_uuid(raw: &str, field: &str, violations: &mut Violations) -> Option<Uuid> {
    if raw.is_empty() {
        violations.add(field, "is required");
        return None;
    }
    raw.parse().map_err(|_| violations.add(field, "must be a UUID")).ok()
}

fn to_status(error: Error) -> Status {
    let message = error.to_string();
    match error {
        Error::BookingNotFound(_) => with_reason(Code::NotFound, "BOOKING_NOT_FOUND", message),
        Error::IllegalTransition { .. } => with_reason(Code::FailedPrecondition, "ILLEGAL_TRANSITION", message),
        Error::ViewUnavailable => with_reason(Code::Unavailable, "VIEW_UNAVAILABLE", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}
