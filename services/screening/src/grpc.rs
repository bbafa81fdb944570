//! The gRPC face: parse the request, call the service, map the answer.
//! Every error becomes a status here and only here.

use std::collections::BTreeMap;

use chrono::Utc;
use cinema_mesh::identity::{Identity, Role};
use cinema_mesh::status::{Violations, unexpected, with_reason};
use cinema_mesh::{correlation, time};
use cinema_proto::common::v1::Money;
use cinema_proto::screening::v1 as pb;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::domain::{MovieStatus, Price, RunningMinutes, Schedule, Title};
use crate::service::{Error, Movie, Screening, Service};

pub struct Api {
    service: Service,
}

impl Api {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::screening_service_server::ScreeningService for Api {
    async fn register_movie(&self, request: Request<pb::RegisterMovieRequest>) -> Result<Response<pb::Movie>, Status> {
        Identity::with_role(request.metadata(), Role::Admin)?;
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let title = Title::parse(&req.title).map_err(|e| violations.add("title", e)).ok();
        let status = match pb::MovieStatus::try_from(req.status) {
            Ok(pb::MovieStatus::Unspecified | pb::MovieStatus::Waiting) => Some(MovieStatus::Waiting),
            Ok(pb::MovieStatus::Running) => Some(MovieStatus::Running),
            Ok(pb::MovieStatus::Ended) => Some(MovieStatus::Ended),
            Err(_) => {
                violations.add("status", "must be WAITING, RUNNING or ENDED");
                None
            }
        };
        let minutes = RunningMinutes::parse(req.running_minutes).map_err(|e| violations.add("running_minutes", e)).ok();
        let (Some(title), Some(status), Some(minutes)) = violations.check((title, status, minutes))? else {
            unreachable!("no violations means every field parsed")
        };
        let movie = self.service.register_movie(title, status, minutes, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(movie_to_proto(movie)))
    }

    async fn list_movies(
        &self,
        request: Request<pb::ListMoviesRequest>,
    ) -> Result<Response<pb::ListMoviesResponse>, Status> {
        let status = match pb::MovieStatus::try_from(request.into_inner().status) {
            Ok(pb::MovieStatus::Unspecified) => None,
            Ok(pb::MovieStatus::Waiting) => Some(MovieStatus::Waiting),
            Ok(pb::MovieStatus::Running) => Some(MovieStatus::Running),
            Ok(pb::MovieStatus::Ended) => Some(MovieStatus::Ended),
            Err(_) => return Err(cinema_mesh::status::invalid_argument("status", "unknown movie status")),
        };
        let movies = self.service.list_movies(status).await.map_err(to_status)?;
        Ok(Response::new(pb::ListMoviesResponse { movies: movies.into_iter().map(movie_to_proto).collect() }))
    }

    async fn schedule_screening(
        &self,
        request: Request<pb::ScheduleScreeningRequest>,
    ) -> Result<Response<pb::Screening>, Status> {
        Identity::with_role(request.metadata(), Role::Admin)?;
        let correlation_id = correlation::from_metadata(request.metadata());
        let req = request.into_inner();
        let mut violations = Violations::default();
        let movie_id = parse_uuid(&req.movie_id, "movie_id", &mut violations);
        let starts_at = match req.starts_at.as_ref().map(time::from_proto) {
            None => {
                violations.add("starts_at", "is required");
                None
            }
            Some(None) => {
                violations.add("starts_at", "is out of range");
                None
            }
            Some(Some(t)) if t < Utc::now() => {
                violations.add("starts_at", "must be in the future");
                None
            }
            Some(Some(t)) => Some(t),
        };
        let price = match &req.price {
            None => {
                violations.add("price", "is required");
                None
            }
            Some(m) => Price::parse(&m.currency, m.amount).map_err(|e| violations.add("price", e)).ok(),
        };
        let mut row_prices = BTreeMap::new();
        for (i, rp) in req.row_prices.iter().enumerate() {
            let field = format!("row_prices[{i}]");
            let Some(m) = &rp.price else {
                violations.add(format!("{field}.price"), "is required");
                continue;
            };
            match Price::parse(&m.currency, m.amount) {
                Ok(p) if price.as_ref().is_some_and(|base| base.currency != p.currency) => {
                    violations.add(format!("{field}.price"), "must be in the screening's currency");
                }
                Ok(p) => {
                    if row_prices.insert(rp.row.clone(), p.amount).is_some() {
                        violations.add(format!("{field}.row"), "is priced twice");
                    }
                }
                Err(e) => violations.add(format!("{field}.price"), e),
            }
        }
        let screen_id = Some(req.screen_id).filter(|s| !s.is_empty());
        let (Some(movie_id), Some(starts_at), Some(price)) = violations.check((movie_id, starts_at, price))? else {
            unreachable!("no violations means every field parsed")
        };
        let schedule = Schedule { starts_at, price, row_prices };
        let screening =
            self.service.schedule_screening(movie_id, screen_id, schedule, &correlation_id).await.map_err(to_status)?;
        Ok(Response::new(screening_to_proto(screening)))
    }

    async fn list_screenings(
        &self,
        request: Request<pb::ListScreeningsRequest>,
    ) -> Result<Response<pb::ListScreeningsResponse>, Status> {
        let mut violations = Violations::default();
        let movie_id = parse_uuid(&request.into_inner().movie_id, "movie_id", &mut violations);
        let Some(movie_id) = violations.check(movie_id)? else { unreachable!("checked") };
        let screenings = self.service.list_screenings(movie_id).await.map_err(to_status)?;
        Ok(Response::new(pb::ListScreeningsResponse {
            screenings: screenings.into_iter().map(screening_to_proto).collect(),
        }))
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
        Error::MovieNotFound(_) => with_reason(Code::NotFound, "MOVIE_NOT_FOUND", message),
        Error::ScreenNotFound(_) => with_reason(Code::NotFound, "SCREEN_NOT_FOUND", message),
        Error::UnknownRow(_) => cinema_mesh::status::invalid_argument("row_prices", message),
        Error::ScreenBusy { .. } => with_reason(Code::FailedPrecondition, "SCREEN_BUSY", message),
        Error::MovieEnded(_) => with_reason(Code::FailedPrecondition, "MOVIE_ENDED", message),
        Error::Unexpected(e) => unexpected(&e),
    }
}

fn screen_to_proto(s: crate::store::ScreenRow) -> pb::Screen {
    pb::Screen { screen_id: s.screen_id, name: s.name, rows: s.seat_rows, seats_per_row: s.seats_per_row as u32 }
}

fn movie_to_proto(m: Movie) -> pb::Movie {
    let status = match MovieStatus::from_db(&m.row.status) {
        MovieStatus::Waiting => pb::MovieStatus::Waiting,
        MovieStatus::Running => pb::MovieStatus::Running,
        MovieStatus::Ended => pb::MovieStatus::Ended,
    };
    pb::Movie {
        movie_id: m.row.movie_id.to_string(),
        title: m.row.title,
        status: status.into(),
        running_minutes: m.row.running_minutes as u32,
        screen: Some(screen_to_proto(m.screen)),
        registered_at: Some(time::to_proto(m.row.registered_at)),
    }
}

fn screening_to_proto(s: Screening) -> pb::Screening {
    let currency = s.row.currency.clone();
    let money = |amount: i64| Money { currency: currency.clone(), amount };
    let row_prices: BTreeMap<String, i64> = serde_json::from_value(s.row.row_prices.clone()).unwrap_or_default();
    pb::Screening {
        screening_id: s.row.screening_id.to_string(),
        movie_id: s.row.movie_id.to_string(),
        movie_title: s.movie.title,
        screen: Some(screen_to_proto(s.screen)),
        starts_at: Some(time::to_proto(s.row.starts_at)),
        ends_at: Some(time::to_proto(s.row.ends_at)),
        price: Some(money(s.row.price)),
        row_prices: row_prices
            .into_iter()
            .map(|(row, amount)| pb::RowPrice { row, price: Some(money(amount)) })
            .collect(),
    }
}
