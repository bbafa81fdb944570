//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use cinema_mesh::identity::Identity;
use cinema_mesh::status::{Violations, unexpected, with_reason};
use cinema_mesh::time;
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::notification::v1 as pb;
use tonic::{Code, Request, Response, Status};

use crate::domain::{DeliveryStatus, Notified};
use crate::service::{Error, Service};
use crate::store::DeliveryRow;

pub struct Api {
    service: Service,
}

impl Api {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::notification_service_server::NotificationService for Api {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let customer = Identity::required(request.metadata())?;
        let booking_number = request.into_inner().booking_number.trim().to_owned();
        let mut violations = Violations::default();
        if booking_number.is_empty() {
            violations.add("booking_number", "is required");
        } else if booking_number.len() > 64
            || !booking_number.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            violations.add("booking_number", "must be at most 64 upper-case letters, digits and dashes");
        }
        violations.check(())?;
        let mut deliveries = self.service.list(&booking_number).await.map_err(to_status)?;
        // Only the customer's own: someone else's booking (or one not told anything
        // yet) is not found, so a number leaks nothing.
        deliveries.retain(|d| d.customer_id == customer.subject());
        if deliveries.is_empty() {
            let message = format!("no notifications for booking {booking_number}");
            return Err(with_reason(Code::NotFound, "BOOKING_NOT_FOUND", message));
        }
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: deliveries.into_iter().map(to_proto).collect(),
        }))
    }
}

fn to_status(error: Error) -> Status {
    match error {
        Error::Unexpected(e) => unexpected(&e),
    }
}

fn to_proto(d: DeliveryRow) -> pb::Notification {
    let booking_status = Notified::from_db(&d.booking_status).map_or(BookingStatus::Unspecified, Notified::to_proto);
    let status = match DeliveryStatus::from_db(&d.status) {
        DeliveryStatus::Pending => pb::DeliveryStatus::Pending,
        DeliveryStatus::Delivered => pb::DeliveryStatus::Delivered,
        DeliveryStatus::DeadLettered => pb::DeliveryStatus::DeadLettered,
    };
    pb::Notification {
        notification_id: d.notification_id.to_string(),
        booking_number: d.booking_number,
        customer_id: d.customer_id,
        channel: d.channel,
        booking_status: booking_status.into(),
        text: d.text,
        status: status as i32,
        attempts: u32::try_from(d.attempts).unwrap_or_default(),
        created_at: Some(time::to_proto(d.created_at)),
        event_id: d.event_id.to_string(),
        last_error: d.last_error,
        delivered_at: d.delivered_at.map(time::to_proto),
        next_attempt_at: (status == pb::DeliveryStatus::Pending).then(|| time::to_proto(d.next_attempt_at)),
    }
}
