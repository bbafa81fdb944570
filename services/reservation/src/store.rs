//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct ReservationRow {
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = SqlUuid)]
    pub screening_id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    pub seat_ids: Vec<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub amount: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub payment_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub movie_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub screen_name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub starts_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
}

/// What a status change writes. `None` keeps the column as it is.
#[derive(Clone, Debug, Default)]
pub struct Change<'a> {
    pub status: &'a str,
    pub reason: &'a str,
    pub payment_id: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub amount: Option<i64>,
    pub movie_title: Option<&'a str>,
    pub screen_name: Option<&'a str>,
    pub starts_at: Option<DateTime<Utc>>,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

const COLUMNS: &str = "booking_number, customer_id, screening_id, seat_ids, status, reason, currency, amount, \
     payment_id, movie_title, screen_name, starts_at, created_at, updated_at, version";

/// Inserts a PENDING reservation at version 1; `None` when the number is taken.
pub async fn insert_pending(
    conn: &mut AsyncPgConnection,
    booking_number: &str,
    customer_id: &str,
    screening_id: Uuid,
    seat_ids: &[String],
) -> Result<Option<ReservationRow>> {
    diesel::sql_query(format!(
        "INSERT INTO reservations (booking_number, customer_id, screening_id, seat_ids, status, version) \
         VALUES ($1, $2, $3, $4, 'PENDING', 1) ON CONFLICT (booking_number) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(booking_number)
    .bind::<Text, _>(customer_id)
    .bind::<SqlUuid, _>(screening_id)
    .bind::<Array<Text>, _>(seat_ids)
    .prepared()
    .get_result(conn)
    .await
    .optional()
}

pub async fn reservation(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<ReservationRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM reservations WHERE booking_number = $1"))
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// The reservation, locked until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<ReservationRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM reservations WHERE booking_number = $1 FOR UPDATE"))
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// Applies `change` and bumps the version; returns the new row.
pub async fn update(conn: &mut AsyncPgConnection, booking_number: &str, change: &Change<'_>) -> Result<ReservationRow> {
    diesel::sql_query(format!(
        "UPDATE reservations SET status = $2, reason = $3, \
             payment_id = COALESCE($4, payment_id), currency = COALESCE($5, currency), \
             amount = COALESCE($6, amount), movie_title = COALESCE($7, movie_title), \
             screen_name = COALESCE($8, screen_name), starts_at = COALESCE($9, starts_at), \
             version = version + 1, updated_at = now() \
         WHERE booking_number = $1 RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(booking_number)
    .bind::<Text, _>(change.status)
    .bind::<Text, _>(change.reason)
    .bind::<Nullable<Text>, _>(change.payment_id)
    .bind::<Nullable<Text>, _>(change.currency)
    .bind::<Nullable<BigInt>, _>(change.amount)
    .bind::<Nullable<Text>, _>(change.movie_title)
    .bind::<Nullable<Text>, _>(change.screen_name)
    .bind::<Nullable<Timestamptz>, _>(change.starts_at)
    .prepared()
    .get_result(conn)
    .await
}

/// A customer's reservations, newest first, after `after` (if any).
pub async fn page(
    conn: &mut AsyncPgConnection,
    customer_id: &str,
    after: Option<(DateTime<Utc>, &str)>,
    limit: i64,
) -> Result<Vec<ReservationRow>> {
    let (after_at, after_number) = after.unzip();
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM reservations \
         WHERE customer_id = $1 AND ($2::timestamptz IS NULL OR (created_at, booking_number) < ($2, $3)) \
         ORDER BY created_at DESC, booking_number DESC LIMIT $4"
    ))
    .bind::<Text, _>(customer_id)
    .bind::<Nullable<Timestamptz>, _>(after_at)
    .bind::<Nullable<Text>, _>(after_number)
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await
}
