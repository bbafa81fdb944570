//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here. Writes run on a spawned
//! task so that a caller that goes away cannot cut a transaction half-way.

use cinema_mesh::status::{Violations, internal, invalid_argument, unexpected, with_reason};
use cinema_mesh::{Shutdown, correlation, time};
use cinema_proto::common::v1::Money;
use cinema_proto::seats::v1 as pb;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::domain::{SeatIds, parse_booking_number};
use crate::feed::Feed;
use crate::service::{Error, Hold, SeatMap, Service};

#[derive(Clone)]
pub struct Api {
    service: Service,
    feed: Feed,
    /// Ends open watches when the server drains.
    shutdown: Shutdown,
}

impl Api {
    pub fn new(service: Service, feed: Feed, shutdown: Shutdown) -> Self {
        Self { service, feed, shutdown }
    }
}

#[tonic::async_trait]
impl pb::seats_service_server::SeatsService for Api {
    type WatchSeatMapStream = BoxStream<'static, Result<pb::SeatMap, Status>>;

    async fn get_seat_map(&self, request: Request<pb::GetSeatMapRequest>) -> Result<Response<pb::SeatMap>, Status> {
        let screening_id = parse_screening_id(&request.into_inner().screening_id)?;
        let map = self.service.seat_map(screening_id).await.map_err(to_status)?;
        Ok(Response::new(seat_map_to_proto(map)))
    }

    async fn watch_seat_map(
        &self,
        request: Request<pb::WatchSeatMapRequest>,
    ) -> Result<Response<Self::WatchSeatMapStream>, Status> {
        let screening_id = parse_screening_id(&request.into_inner().screening_id)?;
        let maps =
            self.feed.watch(self.service.clone(), screening_id, self.shutdown.clone()).await.map_err(to_status)?;
        Ok(Response::new(ReceiverStream::new(maps).map(|map| Ok(seat_map_to_proto(map))).boxed()))
    }
}

fn seat_map_to_proto(map: SeatMap) -> pb::SeatMap {
    let currency = map.screening.currency.clone();
    let seats: Vec<pb::Seat> = map
        .seats
        .into_iter()
        .map(|s| pb::Seat {
            seat_id: s.seat_id,
            row: s.seat_row,
            number: s.seat_number as u32,
            status: match s.status.as_str() {
                "AVAILABLE" => pb::SeatStatus::Available,
                "HELD" => pb::SeatStatus::Held,
                _ => pb::SeatStatus::Sold,
            }
            .into(),
            price: Some(Money { currency: currency.clone(), amount: s.price }),
        })
        .collect();
    pb::SeatMap {
        screening_id: map.screening.screening_id.to_string(),
        movie_title: map.screening.movie_title,
        screen_name: map.screening.screen_name,
        starts_at: Some(time::to_proto(map.screening.starts_at)),
        available: seats.iter().filter(|s| s.status == pb::SeatStatus::Available as i32).count() as u32,
        seats,
    }
}

#[tonic::async_trait]
impl pb::seat_inventory_service_server::SeatInventoryService for Api {
    async fn hold_seats(&self, request: Request<pb::HoldSeatsRequest>) -> Result<Response<pb::SeatHold>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let booking_number = parse_booking_number(&req.booking_number)
            .map_err(|e| violations.add("booking_number", e))
            .ok()
            .map(str::to_owned);
        let screening_id =
            parse_screening_id(&req.screening_id).map_err(|_| violations.add("screening_id", "must be a UUID")).ok();
        let seats = SeatIds::parse(&req.seat_ids).map_err(|e| violations.add("seat_ids", e)).ok();
        let (Some(booking_number), Some(screening_id), Some(seats)) =
            violations.check((booking_number, screening_id, seats))?
        else {
            unreachable!("no violations means every field parsed")
        };
        let service = self.service.clone();
        let hold =
            spawn(async move { service.hold(&booking_number, screening_id, seats, &correlation_id).await }).await?;
        Ok(Response::new(hold_to_proto(hold)))
    }

    async fn confirm_seats(&self, request: Request<pb::ConfirmSeatsRequest>) -> Result<Response<pb::SeatHold>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let booking_number = booking_number_of(&request.into_inner().booking_number)?;
        let service = self.service.clone();
        let hold = spawn(async move { service.confirm(&booking_number, &correlation_id).await }).await?;
        Ok(Response::new(hold_to_proto(hold)))
    }

    async fn release_seats(
        &self,
        request: Request<pb::ReleaseSeatsRequest>,
    ) -> Result<Response<pb::ReleaseSeatsResponse>, Status> {
        let correlation_id = correlation::from_metadata(request.metadata());
        let booking_number = booking_number_of(&request.into_inner().booking_number)?;
        let service = self.service.clone();
        let released_seat_ids = spawn(async move { service.release(&booking_number, &correlation_id).await }).await?;
        Ok(Response::new(pb::ReleaseSeatsResponse { released_seat_ids }))
    }
}

async fn spawn<T: Send + 'static>(work: impl Future<Output = Result<T, Error>> + Send + 'static) -> Result<T, Status> {
    match tokio::spawn(work).await {
        Ok(result) => result.map_err(to_status),
        Err(join) => Err(internal(&anyhow::anyhow!("task failed: {join}"))),
    }
}

fn parse_screening_id(raw: &str) -> Result<Uuid, Status> {
    if raw.is_empty() {
        return Err(invalid_argument("screening_id", "is required"));
    }
    raw.parse().map_err(|_| invalid_argument("screening_id", "must be a UUID"))
}

fn booking_number_of(raw: &str) -> Result<String, Status> {
    parse_booking_number(raw).map(str::to_owned).map_err(|e| invalid_argument("booking_number", e))
}

fn hold_to_proto(hold: Hold) -> pb::SeatHold {
    pb::SeatHold {
        booking_number: hold.row.booking_number,
        screening_id: hold.row.screening_id.to_string(),
        seat_ids: hold.row.seat_ids,
        total: Some(Money { currency: hold.currency, amount: hold.row.total }),
        expires_at: Some(time::to_proto(hold.row.expires_at)),
        sold: hold.row.status == "SOLD",
        movie_title: hold.screening.movie_title,
        screen_name: hold.screening.screen_name,
        starts_at: Some(time::to_proto(hold.screening.starts_at)),
    }
}

fn to_status(error: Error) -> Status {
    let message = error.to_string();
    match error {
        Error::ScreeningNotFound(_) => with_reason(Code::NotFound, "SCREENING_NOT_FOUND", message),
        Error::SeatNotFound(_) => with_reason(Code::NotFound, "SEAT_NOT_FOUND", message),
        Error::HoldNotFound(_) => with_reason(Code::NotFound, "HOLD_NOT_FOUND", message),
        Error::SeatTaken(_) => with_reason(Code::FailedPrecondition, "SEAT_TAKEN", message),
        Error::HoldReleased(_) => with_reason(Code::FailedPrecondition, "HOLD_RELEASED", message),
        Error::HoldExpired { .. } => with_reason(Code::FailedPrecondition, "HOLD_EXPIRED", message),
        Error::HoldMismatch(_) => with_reason(Code::AlreadyExists, "HOLD_MISMATCH", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}
