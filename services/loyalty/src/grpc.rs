//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use cinema_mesh::status::{Violations, internal};
use cinema_mesh::time;
use cinema_proto::loyalty::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{PageSize, PageToken};
use crate::service::{Error, Points, Service};

pub struct Api {
    service: Service,
}

impl Api {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::loyalty_service_server::LoyaltyService for Api {
    async fn get_points(&self, request: Request<pb::GetPointsRequest>) -> Result<Response<pb::Points>, Status> {
        let req = request.into_inner();
        let mut violations = Violations::default();
        let customer_id = req.customer_id.trim().to_owned();
        if customer_id.is_empty() {
            violations.add("customer_id", "is required");
        }
        let after = PageToken::parse(&req.page_token).map_err(|e| violations.add("page_token", e)).ok();
        let Some(after) = violations.check(after)? else { unreachable!("no violations means the token parsed") };
        let size = PageSize::parse(req.page_size);
        let points = self.service.points(&customer_id, size, after).await.map_err(to_status)?;
        Ok(Response::new(to_proto(customer_id, points)))
    }
}

fn to_status(error: Error) -> Status {
    match error {
        Error::Unexpected(e) => internal(&e),
    }
}

fn to_proto(customer_id: String, points: Points) -> pb::Points {
    pb::Points {
        customer_id,
        balance: points.balance,
        history: points
            .history
            .into_iter()
            .map(|e| pb::LedgerEntry {
                entry_id: e.entry_id.to_string(),
                booking_number: e.booking_number,
                points: e.points,
                reason: e.reason,
                created_at: Some(time::to_proto(e.created_at)),
            })
            .collect(),
        next_page_token: points.next.map(|t| t.encode()).unwrap_or_default(),
    }
}
