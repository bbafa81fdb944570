//! Use cases. Each owns its transaction and enqueues its events in it.

use chrono::{DateTime, Duration, Utc};
use cinema_mesh::outbox::{self, Event, Relay};
use cinema_mesh::store::{Pool, get};
use cinema_proto::events::v1::{MovieRegistered, ScreeningScheduled, SeatPrice};
use cinema_proto::topics;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use crate::domain::{Layout, MovieStatus, RunningMinutes, Schedule, Title};
use crate::store::{self, MovieRow, ScreenRow, ScreeningRow};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("movie {0} does not exist")]
    MovieNotFound(Uuid),
    #[error("screen {0} does not exist")]
    ScreenNotFound(String),
    #[error("row {0} is not a row of the screen")]
    UnknownRow(String),
    #[error("the screen is busy from {starts_at} to {ends_at} with another screening")]
    ScreenBusy { starts_at: DateTime<Utc>, ends_at: DateTime<Utc> },
    #[error("movie {0} has ended; it cannot be scheduled")]
    MovieEnded(Uuid),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A movie with its assigned screen.
pub struct Movie {
    pub row: MovieRow,
    pub screen: ScreenRow,
}

/// A screening with its movie and screen.
pub struct Screening {
    pub row: ScreeningRow,
    pub movie: MovieRow,
    pub screen: ScreenRow,
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    relay: Relay,
}

impl Service {
    pub fn new(pool: Pool, relay: Relay) -> Self {
        Self { pool, relay }
    }

    /// Registers a movie on the least busy screen.
    pub async fn register_movie(
        &self,
        title: Title,
        status: MovieStatus,
        minutes: RunningMinutes,
        correlation_id: &str,
    ) -> Result<Movie, Error> {
        let mut conn = get(&self.pool).await?;
        let movie = conn
            .transaction::<_, Error, _>(async |c| {
                let screen = store::least_busy_screen(c).await?;
                let row = MovieRow {
                    movie_id: Uuid::now_v7(),
                    title: title.as_str().to_owned(),
                    status: status.as_str().to_owned(),
                    running_minutes: minutes.get() as i32,
                    screen_id: screen.screen_id.clone(),
                    registered_at: Utc::now(),
                };
                store::insert_movie(c, &row).await?;
                let movie_id = row.movie_id.to_string();
                let event = MovieRegistered {
                    movie_id: movie_id.clone(),
                    title: row.title.clone(),
                    screen_id: screen.screen_id.clone(),
                    screen_name: screen.name.clone(),
                };
                outbox::enqueue(
                    c,
                    Event {
                        topic: topics::MOVIE_REGISTERED,
                        aggregate_id: &movie_id,
                        aggregate_version: 1,
                        payload: &event,
                        correlation_id,
                        causation_id: correlation_id,
                    },
                )
                .await?;
                Ok(Movie { row, screen })
            })
            .await?;
        self.relay.wake();
        tracing::info!(message = "Movie registered.", movie_id = %movie.row.movie_id, screen = %movie.screen.screen_id);
        Ok(movie)
    }

    pub async fn list_movies(&self, status: Option<MovieStatus>) -> Result<Vec<Movie>, Error> {
        let mut conn = get(&self.pool).await?;
        let screens = store::screens(&mut conn).await?;
        let movies = store::movies(&mut conn, status.map(MovieStatus::as_str)).await?;
        Ok(movies
            .into_iter()
            .filter_map(|row| {
                let screen = screens.iter().find(|s| s.screen_id == row.screen_id)?.clone();
                Some(Movie { row, screen })
            })
            .collect())
    }

    /// Schedules a screening; emits ScreeningScheduled with every seat's price.
    pub async fn schedule_screening(
        &self,
        movie_id: Uuid,
        screen_id: Option<String>,
        schedule: Schedule,
        correlation_id: &str,
    ) -> Result<Screening, Error> {
        let mut conn = get(&self.pool).await?;
        let screening = conn
            .transaction::<_, Error, _>(async |c| {
                let movie = store::movie(c, movie_id).await?.ok_or(Error::MovieNotFound(movie_id))?;
                if MovieStatus::from_db(&movie.status) == MovieStatus::Ended {
                    return Err(Error::MovieEnded(movie_id));
                }
                let screen_id = screen_id.unwrap_or_else(|| movie.screen_id.clone());
                let screen = store::screen(c, &screen_id).await?.ok_or(Error::ScreenNotFound(screen_id.clone()))?;
                if let Some(row) = schedule.row_prices.keys().find(|r| !screen.seat_rows.contains(r)) {
                    return Err(Error::UnknownRow(row.clone()));
                }
                store::lock_screen(c, &screen_id).await?;
                let ends_at = schedule.starts_at + Duration::minutes(i64::from(movie.running_minutes));
                if let Some(busy) = store::overlapping(c, &screen_id, schedule.starts_at, ends_at).await?.first() {
                    return Err(Error::ScreenBusy { starts_at: busy.starts_at, ends_at: busy.ends_at });
                }
                let row = ScreeningRow {
                    screening_id: Uuid::now_v7(),
                    movie_id,
                    screen_id: screen_id.clone(),
                    starts_at: schedule.starts_at,
                    ends_at,
                    currency: schedule.price.currency.clone(),
                    price: schedule.price.amount,
                    row_prices: serde_json::to_value(&schedule.row_prices).map_err(anyhow::Error::from)?,
                };
                store::insert_screening(c, &row).await?;
                let layout = Layout { rows: screen.seat_rows.clone(), seats_per_row: screen.seats_per_row as u32 };
                let screening_id = row.screening_id.to_string();
                let event = ScreeningScheduled {
                    screening_id: screening_id.clone(),
                    movie_id: movie_id.to_string(),
                    movie_title: movie.title.clone(),
                    screen_id: screen.screen_id.clone(),
                    screen_name: screen.name.clone(),
                    starts_at: Some(std::time::SystemTime::from(row.starts_at).into()),
                    ends_at: Some(std::time::SystemTime::from(row.ends_at).into()),
                    currency: row.currency.clone(),
                    seats: layout
                        .seat_ids()
                        .map(|(seat_id, seat_row)| SeatPrice { seat_id, amount: schedule.price_of(seat_row) })
                        .collect(),
                };
                outbox::enqueue(
                    c,
                    Event {
                        topic: topics::SCREENING_SCHEDULED,
                        aggregate_id: &screening_id,
                        aggregate_version: 1,
                        payload: &event,
                        correlation_id,
                        causation_id: correlation_id,
                    },
                )
                .await?;
                Ok(Screening { row, movie, screen })
            })
            .await?;
        self.relay.wake();
        tracing::info!(message = "Screening scheduled.", screening_id = %screening.row.screening_id, screen = %screening.screen.screen_id);
        Ok(screening)
    }

    pub async fn list_screenings(&self, movie_id: Uuid) -> Result<Vec<Screening>, Error> {
        let mut conn = get(&self.pool).await?;
        let movie = store::movie(&mut conn, movie_id).await?.ok_or(Error::MovieNotFound(movie_id))?;
        let screens = store::screens(&mut conn).await?;
        let rows = store::screenings_of(&mut conn, movie_id).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let screen = screens.iter().find(|s| s.screen_id == row.screen_id)?.clone();
                Some(Screening { row, movie: movie.clone(), screen })
            })
            .collect())
    }
}
