//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

type Result<T> = std::result::Result<T, diesel::result::Error>;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct ScreeningRow {
    #[diesel(sql_type = SqlUuid)]
    pub screening_id: Uuid,
    #[diesel(sql_type = Text)]
    pub movie_title: String,
    #[diesel(sql_type = Text)]
    pub screen_name: String,
    #[diesel(sql_type = Timestamptz)]
    pub starts_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub currency: String,
}

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct SeatRow {
    #[diesel(sql_type = Text)]
    pub seat_id: String,
    #[diesel(sql_type = Text)]
    pub seat_row: String,
    #[diesel(sql_type = Int4)]
    pub seat_number: i32,
    #[diesel(sql_type = BigInt)]
    pub price: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub booking_number: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub hold_expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct HoldRow {
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = SqlUuid)]
    pub screening_id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    pub seat_ids: Vec<String>,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = Timestamptz)]
    pub expires_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub status: String,
}

const SCREENING_COLUMNS: &str = "screening_id, movie_title, screen_name, starts_at, currency";
const SEAT_COLUMNS: &str = "seat_id, seat_row, seat_number, price, status, booking_number, hold_expires_at";
const HOLD_COLUMNS: &str = "booking_number, screening_id, seat_ids, total, expires_at, status";

/// Records a screening and all its seats; a second call changes nothing.
pub async fn insert_screening(
    conn: &mut AsyncPgConnection,
    screening: &ScreeningRow,
    seats: &[(String, String, i32, i64)],
) -> Result<()> {
    let inserted = diesel::sql_query(format!(
        "INSERT INTO screenings ({SCREENING_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    ))
    .bind::<SqlUuid, _>(screening.screening_id)
    .bind::<Text, _>(&screening.movie_title)
    .bind::<Text, _>(&screening.screen_name)
    .bind::<Timestamptz, _>(screening.starts_at)
    .bind::<Text, _>(&screening.currency)
    .prepared()
    .execute(&mut *conn)
    .await?;
    if inserted == 0 {
        return Ok(());
    }
    let ids: Vec<&str> = seats.iter().map(|s| s.0.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.1.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.2).collect();
    let prices: Vec<i64> = seats.iter().map(|s| s.3).collect();
    diesel::sql_query(
        "INSERT INTO seats (screening_id, seat_id, seat_row, seat_number, price, status) \
         SELECT $1, s.id, s.row, s.number, s.price, 'AVAILABLE' \
         FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[]) AS s(id, row, number, price)",
    )
    .bind::<SqlUuid, _>(screening.screening_id)
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<Text>, _>(rows)
    .bind::<Array<Int4>, _>(numbers)
    .bind::<Array<BigInt>, _>(prices)
    .prepared()
    .execute(conn)
    .await
    .map(drop)
}

pub async fn screening(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<ScreeningRow>> {
    diesel::sql_query(format!("SELECT {SCREENING_COLUMNS} FROM screenings WHERE screening_id = $1"))
        .bind::<SqlUuid, _>(id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn seats(conn: &mut AsyncPgConnection, screening_id: Uuid) -> Result<Vec<SeatRow>> {
    diesel::sql_query(format!(
        "SELECT {SEAT_COLUMNS} FROM seats WHERE screening_id = $1 ORDER BY seat_row, seat_number"
    ))
    .bind::<SqlUuid, _>(screening_id)
    .prepared()
    .load(conn)
    .await
}

/// Locks the named seats in seat-id order (one order for everyone: no deadlocks).
pub async fn lock_seats(conn: &mut AsyncPgConnection, screening_id: Uuid, seat_ids: &[String]) -> Result<Vec<SeatRow>> {
    diesel::sql_query(format!(
        "SELECT {SEAT_COLUMNS} FROM seats WHERE screening_id = $1 AND seat_id = ANY($2) ORDER BY seat_id FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(screening_id)
    .bind::<Array<Text>, _>(seat_ids)
    .prepared()
    .load(conn)
    .await
}

pub async fn hold_seats(
    conn: &mut AsyncPgConnection,
    screening_id: Uuid,
    seat_ids: &[String],
    booking_number: &str,
    expires_at: DateTime<Utc>,
) -> Result<usize> {
    diesel::sql_query(
        "UPDATE seats SET status = 'HELD', booking_number = $3, hold_expires_at = $4 \
         WHERE screening_id = $1 AND seat_id = ANY($2)",
    )
    .bind::<SqlUuid, _>(screening_id)
    .bind::<Array<Text>, _>(seat_ids)
    .bind::<Text, _>(booking_number)
    .bind::<Timestamptz, _>(expires_at)
    .prepared()
    .execute(conn)
    .await
}

/// Sells the named seats to the booking (they are locked and checked free or
/// its own); returns how many.
pub async fn sell_seats(
    conn: &mut AsyncPgConnection,
    screening_id: Uuid,
    seat_ids: &[String],
    booking_number: &str,
) -> Result<usize> {
    diesel::sql_query(
        "UPDATE seats SET status = 'SOLD', booking_number = $3, hold_expires_at = NULL \
         WHERE screening_id = $1 AND seat_id = ANY($2)",
    )
    .bind::<SqlUuid, _>(screening_id)
    .bind::<Array<Text>, _>(seat_ids)
    .bind::<Text, _>(booking_number)
    .prepared()
    .execute(conn)
    .await
}

/// Locks up to `limit` holds that are HELD past their expiry, skipping those
/// another sweeper (or a confirm) has locked.
pub async fn lock_expired_holds(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<HoldRow>> {
    diesel::sql_query(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE status = 'HELD' AND expires_at <= now() \
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED"
    ))
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await
}

/// Frees the seats the booking still holds (not those it bought or lost).
pub async fn free_held_seats(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<String>> {
    free(conn, booking_number, "AND status = 'HELD'").await
}

/// Frees whatever the booking holds or bought; returns the seat ids.
pub async fn free_seats(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<String>> {
    free(conn, booking_number, "").await
}

async fn free(conn: &mut AsyncPgConnection, booking_number: &str, only: &str) -> Result<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Freed {
        #[diesel(sql_type = Text)]
        seat_id: String,
    }
    let freed: Vec<Freed> = diesel::sql_query(format!(
        "UPDATE seats SET status = 'AVAILABLE', booking_number = NULL, hold_expires_at = NULL \
         WHERE booking_number = $1 {only} RETURNING seat_id"
    ))
    .bind::<Text, _>(booking_number)
    .prepared()
    .load(conn)
    .await?;
    let mut ids: Vec<String> = freed.into_iter().map(|f| f.seat_id).collect();
    ids.sort();
    Ok(ids)
}

pub async fn hold(conn: &mut AsyncPgConnection, booking_number: &str, lock: bool) -> Result<Option<HoldRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    diesel::sql_query(format!("SELECT {HOLD_COLUMNS} FROM holds WHERE booking_number = $1{lock}"))
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn insert_hold(conn: &mut AsyncPgConnection, hold: &HoldRow) -> Result<()> {
    diesel::sql_query(format!("INSERT INTO holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind::<Text, _>(&hold.booking_number)
        .bind::<SqlUuid, _>(hold.screening_id)
        .bind::<Array<Text>, _>(&hold.seat_ids)
        .bind::<BigInt, _>(hold.total)
        .bind::<Timestamptz, _>(hold.expires_at)
        .bind::<Text, _>(&hold.status)
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_hold_status(conn: &mut AsyncPgConnection, booking_number: &str, status: &str) -> Result<()> {
    diesel::sql_query("UPDATE holds SET status = $2, updated_at = now() WHERE booking_number = $1")
        .bind::<Text, _>(booking_number)
        .bind::<Text, _>(status)
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

/// Holds still HELD whose expiry is ahead.
pub async fn active_holds(conn: &mut AsyncPgConnection) -> diesel::QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM holds WHERE status = 'HELD' AND expires_at > now()")
            .prepared()
            .get_result(conn)
            .await?;
    Ok(count.n)
}
