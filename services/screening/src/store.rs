//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct ScreenRow {
    #[diesel(sql_type = Text)]
    pub screen_id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Array<Text>)]
    pub seat_rows: Vec<String>,
    #[diesel(sql_type = Int4)]
    pub seats_per_row: i32,
}

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct MovieRow {
    #[diesel(sql_type = SqlUuid)]
    pub movie_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Int4)]
    pub running_minutes: i32,
    #[diesel(sql_type = Text)]
    pub screen_id: String,
    #[diesel(sql_type = Timestamptz)]
    pub registered_at: DateTime<Utc>,
}

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct ScreeningRow {
    #[diesel(sql_type = SqlUuid)]
    pub screening_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub movie_id: Uuid,
    #[diesel(sql_type = Text)]
    pub screen_id: String,
    #[diesel(sql_type = Timestamptz)]
    pub starts_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub ends_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub price: i64,
    #[diesel(sql_type = Jsonb)]
    pub row_prices: serde_json::Value,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

/// The screen with the fewest showing or upcoming movies; locks it.
pub async fn least_busy_screen(conn: &mut AsyncPgConnection) -> Result<ScreenRow> {
    diesel::sql_query(
        "SELECT s.screen_id, s.name, s.seat_rows, s.seats_per_row FROM screens s \
         ORDER BY (SELECT count(*) FROM movies m WHERE m.screen_id = s.screen_id AND m.status <> 'ENDED'), s.screen_id \
         LIMIT 1 FOR UPDATE",
    )
    .prepared()
    .get_result(conn)
    .await
}

pub async fn screen(conn: &mut AsyncPgConnection, screen_id: &str) -> Result<Option<ScreenRow>> {
    diesel::sql_query("SELECT screen_id, name, seat_rows, seats_per_row FROM screens WHERE screen_id = $1")
        .bind::<Text, _>(screen_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// Locks the screen row so that concurrent schedules on it serialize.
pub async fn lock_screen(conn: &mut AsyncPgConnection, screen_id: &str) -> Result<()> {
    diesel::sql_query("SELECT screen_id, name, seat_rows, seats_per_row FROM screens WHERE screen_id = $1 FOR UPDATE")
        .bind::<Text, _>(screen_id)
        .prepared()
        .get_result::<ScreenRow>(conn)
        .await
        .map(drop)
}

pub async fn insert_movie(conn: &mut AsyncPgConnection, movie: &MovieRow) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO movies (movie_id, title, status, running_minutes, screen_id, registered_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<SqlUuid, _>(movie.movie_id)
    .bind::<Text, _>(&movie.title)
    .bind::<Text, _>(&movie.status)
    .bind::<Int4, _>(movie.running_minutes)
    .bind::<Text, _>(&movie.screen_id)
    .bind::<Timestamptz, _>(movie.registered_at)
    .prepared()
    .execute(conn)
    .await
    .map(drop)
}

const MOVIE_COLUMNS: &str = "movie_id, title, status, running_minutes, screen_id, registered_at";

pub async fn movie(conn: &mut AsyncPgConnection, movie_id: Uuid) -> Result<Option<MovieRow>> {
    diesel::sql_query(format!("SELECT {MOVIE_COLUMNS} FROM movies WHERE movie_id = $1"))
        .bind::<SqlUuid, _>(movie_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn movies(conn: &mut AsyncPgConnection, status: Option<&str>) -> Result<Vec<MovieRow>> {
    diesel::sql_query(format!(
        "SELECT {MOVIE_COLUMNS} FROM movies WHERE $1::text IS NULL OR status = $1 ORDER BY registered_at, movie_id"
    ))
    .bind::<diesel::sql_types::Nullable<Text>, _>(status)
    .prepared()
    .load(conn)
    .await
}

pub async fn screens(conn: &mut AsyncPgConnection) -> Result<Vec<ScreenRow>> {
    diesel::sql_query("SELECT screen_id, name, seat_rows, seats_per_row FROM screens ORDER BY screen_id")
        .prepared()
        .load(conn)
        .await
}

/// Screenings on `screen_id` that overlap `[starts_at, ends_at)`.
pub async fn overlapping(
    conn: &mut AsyncPgConnection,
    screen_id: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Vec<ScreeningRow>> {
    diesel::sql_query(format!(
        "SELECT {SCREENING_COLUMNS} FROM screenings WHERE screen_id = $1 AND starts_at < $3 AND ends_at > $2"
    ))
    .bind::<Text, _>(screen_id)
    .bind::<Timestamptz, _>(starts_at)
    .bind::<Timestamptz, _>(ends_at)
    .prepared()
    .load(conn)
    .await
}

const SCREENING_COLUMNS: &str = "screening_id, movie_id, screen_id, starts_at, ends_at, currency, price, row_prices";

pub async fn insert_screening(conn: &mut AsyncPgConnection, s: &ScreeningRow) -> Result<()> {
    diesel::sql_query(format!("INSERT INTO screenings ({SCREENING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind::<SqlUuid, _>(s.screening_id)
        .bind::<SqlUuid, _>(s.movie_id)
        .bind::<Text, _>(&s.screen_id)
        .bind::<Timestamptz, _>(s.starts_at)
        .bind::<Timestamptz, _>(s.ends_at)
        .bind::<Text, _>(&s.currency)
        .bind::<BigInt, _>(s.price)
        .bind::<Jsonb, _>(&s.row_prices)
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn screenings_of(conn: &mut AsyncPgConnection, movie_id: Uuid) -> Result<Vec<ScreeningRow>> {
    diesel::sql_query(format!(
        "SELECT {SCREENING_COLUMNS} FROM screenings WHERE movie_id = $1 ORDER BY starts_at, screening_id"
    ))
    .bind::<SqlUuid, _>(movie_id)
    .prepared()
    .load(conn)
    .await
}
