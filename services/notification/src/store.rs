//! One function per query.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct DeliveryRow {
    #[diesel(sql_type = SqlUuid)]
    pub notification_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = Text)]
    pub booking_status: String,
    #[diesel(sql_type = Text)]
    pub text: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub delivered_at: Option<DateTime<Utc>>,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

const COLUMNS: &str = "notification_id, event_id, channel, booking_number, customer_id, booking_status, \
                       text, status, attempts, created_at, delivered_at";

/// Inserts a delivery unless its (event, channel) has one; `true` when inserted.
pub async fn insert_delivery(conn: &mut AsyncPgConnection, d: &DeliveryRow) -> Result<bool> {
    diesel::sql_query(format!(
        "INSERT INTO deliveries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (event_id, channel) DO NOTHING"
    ))
    .bind::<SqlUuid, _>(d.notification_id)
    .bind::<SqlUuid, _>(d.event_id)
    .bind::<Text, _>(&d.channel)
    .bind::<Text, _>(&d.booking_number)
    .bind::<Text, _>(&d.customer_id)
    .bind::<Text, _>(&d.booking_status)
    .bind::<Text, _>(&d.text)
    .bind::<Text, _>(&d.status)
    .bind::<Int4, _>(d.attempts)
    .bind::<Timestamptz, _>(d.created_at)
    .bind::<Nullable<Timestamptz>, _>(d.delivered_at)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Records one attempt on a delivery that is still PENDING with `attempts_before`
/// attempts (so two senders never both count the same attempt); `false` when
/// someone else got there first.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    notification_id: Uuid,
    attempts_before: i32,
    status: &str,
    delivered_at: Option<DateTime<Utc>>,
) -> Result<bool> {
    diesel::sql_query(
        "UPDATE deliveries SET status = $3, attempts = attempts + 1, delivered_at = $4 \
         WHERE notification_id = $1 AND status = 'PENDING' AND attempts = $2",
    )
    .bind::<SqlUuid, _>(notification_id)
    .bind::<Int4, _>(attempts_before)
    .bind::<Text, _>(status)
    .bind::<Nullable<Timestamptz>, _>(delivered_at)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Locks up to `limit` PENDING deliveries created before `cutoff`, oldest
/// first, skipping those another replica holds.
pub async fn claim_stale(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>, limit: i64) -> Result<Vec<DeliveryRow>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM deliveries WHERE status = 'PENDING' AND created_at < $1 \
         ORDER BY created_at, notification_id LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind::<Timestamptz, _>(cutoff)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// A booking's deliveries, oldest first.
pub async fn deliveries_of(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<DeliveryRow>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM deliveries WHERE booking_number = $1 ORDER BY created_at, notification_id"
    ))
    .bind::<Text, _>(booking_number)
    .load(conn)
    .await
}
