//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use cinema_mesh::status::{Violations, unexpected, with_reason};
use cinema_mesh::{correlation, time};
use cinema_proto::common::v1::Money;
use cinema_proto::payment::v1 as pb;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::domain::{Amount, Charge, Key, PaymentStatus};
use crate::service::{Error, Service};
use crate::store::PaymentRow;

pub struct Api {
    service: Service,
}

impl Api {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::payment_service_server::PaymentService for Api {
    async fn charge(&self, request: Request<pb::ChargeRequest>) -> Result<Response<pb::Payment>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let key = Key::parse(&req.idempotency_key).map_err(|e| violations.add("idempotency_key", e)).ok();
        required(&req.booking_number, "booking_number", &mut violations);
        required(&req.customer_id, "customer_id", &mut violations);
        required(&req.card_token, "card_token", &mut violations);
        let amount = match &req.amount {
            None => {
                violations.add("amount", "is required");
                None
            }
            Some(m) => Amount::parse(&m.currency, m.amount).map_err(|e| violations.add("amount", e)).ok(),
        };
        let (Some(key), Some(amount)) = violations.check((key, amount))? else {
            unreachable!("no violations means every field parsed")
        };
        let charge = Charge {
            key,
            booking_number: req.booking_number,
            customer_id: req.customer_id,
            amount,
            card_token: req.card_token,
        };
        let payment = self.service.charge(charge, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(payment_to_proto(payment)))
    }

    async fn refund(&self, request: Request<pb::RefundRequest>) -> Result<Response<pb::Payment>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let key = Key::parse(&req.idempotency_key).map_err(|e| violations.add("idempotency_key", e)).ok();
        let payment_id = parse_uuid(&req.payment_id, "payment_id", &mut violations);
        if req.reason.chars().count() > 1000 {
            violations.add("reason", "must be at most 1000 characters");
        }
        let (Some(key), Some(payment_id)) = violations.check((key, payment_id))? else {
            unreachable!("no violations means every field parsed")
        };
        let payment = self.service.refund(key, payment_id, &req.reason, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(payment_to_proto(payment)))
    }

    async fn get_payment(&self, request: Request<pb::GetPaymentRequest>) -> Result<Response<pb::Payment>, Status> {
        let mut violations = Violations::default();
        let payment_id = parse_uuid(&request.into_inner().payment_id, "payment_id", &mut violations);
        let Some(payment_id) = violations.check(payment_id)? else { unreachable!("checked") };
        let payment = self.service.payment(payment_id).await.map_err(to_status)?;
        Ok(Response::new(payment_to_proto(payment)))
    }
}

fn required(raw: &str, field: &str, violations: &mut Violations) {
    if raw.is_empty() {
        violations.add(field, "is required");
    }
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
        Error::PaymentNotFound(_) => with_reason(Code::NotFound, "PAYMENT_NOT_FOUND", message),
        Error::NotCaptured(_) => with_reason(Code::FailedPrecondition, "NOT_CAPTURED", message),
        Error::RefundKeyReused { .. } => with_reason(Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}

fn payment_to_proto(p: PaymentRow) -> pb::Payment {
    let status = match PaymentStatus::from_db(&p.status) {
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::Declined => pb::PaymentStatus::Declined,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
    };
    pb::Payment {
        payment_id: p.payment_id.to_string(),
        booking_number: p.booking_number,
        customer_id: p.customer_id,
        amount: Some(Money { currency: p.currency, amount: p.amount }),
        status: status.into(),
        provider_reference: p.provider_reference,
        decline_reason: p.decline_reason,
        created_at: Some(time::to_proto(p.created_at)),
        updated_at: Some(time::to_proto(p.updated_at)),
    }
}
