//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use cinema_mesh::identity::Identity;
use cinema_mesh::status::{Violations, invalid_argument, unexpected};
use cinema_mesh::time;
use cinema_proto::loyalty::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{MemberNumber, PageSize, PageToken};
use crate::service::{Error, Points, Service};
use crate::store::LinkRow;

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
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let customer_id = req.customer_id.trim().to_owned();
        if customer_id.is_empty() {
            violations.add("customer_id", "is required");
        }
        let after = PageToken::parse(&req.page_token).map_err(|e| violations.add("page_token", e)).ok();
        let Some(after) = violations.check(after)? else { unreachable!("no violations means the token parsed") };
        customer.require_self(&customer_id)?;
        let size = PageSize::parse(req.page_size);
        let points = self.service.points(&customer_id, size, after).await.map_err(to_status)?;
        Ok(Response::new(to_proto(customer_id, points)))
    }

    async fn link_partner(
        &self,
        request: Request<pb::LinkPartnerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let customer = Identity::required(request.metadata())?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let customer_id = required(&mut violations, "customer_id", &req.customer_id);
        let partner_id = required(&mut violations, "partner_id", &req.partner_id);
        let member = MemberNumber::parse(&req.member_number).map_err(|e| violations.add("member_number", e)).ok();
        let Some(member) = violations.check(member)? else { unreachable!("no violations means it parsed") };
        customer.require_self(&customer_id)?;
        let link = self.service.link(&customer_id, &partner_id, &member).await.map_err(to_status)?;
        Ok(Response::new(link_to_proto(link)))
    }

    async fn unlink_partner(
        &self,
        request: Request<pb::UnlinkPartnerRequest>,
    ) -> Result<Response<pb::UnlinkPartnerResponse>, Status> {
        let customer = Identity::required(request.metadata())?;
        let mut violations = Violations::default();
        let customer_id = required(&mut violations, "customer_id", &request.into_inner().customer_id);
        violations.check(())?;
        customer.require_self(&customer_id)?;
        let unlinked = self.service.unlink(&customer_id).await.map_err(to_status)?;
        Ok(Response::new(pb::UnlinkPartnerResponse { unlinked }))
    }
}

fn required(violations: &mut Violations, field: &str, raw: &str) -> String {
    let value = raw.trim().to_owned();
    if value.is_empty() {
        violations.add(field, "is required");
    }
    value
}

fn to_status(error: Error) -> Status {
    match error {
        e @ Error::UnknownPartner(_) => invalid_argument("partner_id", e.to_string()),
        Error::Unexpected(e) => unexpected(&e),
    }
}

fn link_to_proto(link: LinkRow) -> pb::PartnerLink {
    pb::PartnerLink {
        customer_id: link.customer_id,
        partner_id: link.partner_id,
        member_number: link.member_number,
        linked_at: Some(time::to_proto(link.linked_at)),
    }
}

fn relay_status(raw: &str) -> pb::PartnerRelayStatus {
    match raw {
        "PENDING" => pb::PartnerRelayStatus::Pending,
        "DELIVERED" => pb::PartnerRelayStatus::Delivered,
        "FAILED" => pb::PartnerRelayStatus::Failed,
        _ => pb::PartnerRelayStatus::Unspecified,
    }
}

fn to_proto(customer_id: String, points: Points) -> pb::Points {
    pb::Points {
        customer_id,
        balance: points.balance,
        history: points
            .history
            .into_iter()
            .map(|h| pb::LedgerEntry {
                entry_id: h.entry.entry_id.to_string(),
                booking_number: h.entry.booking_number,
                points: h.entry.points,
                reason: h.entry.reason,
                created_at: Some(time::to_proto(h.entry.created_at)),
                partner_relay: h.relay_partner_id.map(|partner_id| pb::PartnerRelay {
                    partner_id,
                    status: relay_status(h.relay_status.as_deref().unwrap_or_default()) as i32,
                    attempts: h.relay_attempts.and_then(|n| u32::try_from(n).ok()).unwrap_or_default(),
                }),
            })
            .collect(),
        next_page_token: points.next.map(|t| t.encode()).unwrap_or_default(),
        partner: points.partner.map(link_to_proto),
    }
}
