//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
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
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub last_error: String,
    /// The trace context of the event (empty when it was not traced).
    #[diesel(sql_type = Text)]
    pub traceparent: String,
}

/// What one attempt changed.
pub struct Attempt<'a> {
    pub status: &'a str,
    pub last_error: &'a str,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct Due {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

const COLUMNS: &str = "notification_id, event_id, channel, booking_number, customer_id, booking_status, \
                       text, status, attempts, created_at, delivered_at, next_attempt_at, last_error, traceparent";

/// Inserts a delivery unless its (event, channel) has one; `true` when inserted.
pub async fn insert_delivery(conn: &mut AsyncPgConnection, d: &DeliveryRow) -> Result<bool> {
    diesel::sql_query(format!(
        "INSERT INTO deliveries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
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
    .bind::<Timestamptz, _>(d.next_attempt_at)
    .bind::<Text, _>(&d.last_error)
    .bind::<Text, _>(&d.traceparent)
    .prepared()
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Claims up to `limit` PENDING deliveries that are due, oldest due first,
/// by pushing their due time `lease_ms` ahead: no other sender takes them
/// while this one sends, and a sender that dies leaves them due again later.
pub async fn claim_due(conn: &mut AsyncPgConnection, lease_ms: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    diesel::sql_query(format!(
        "UPDATE deliveries SET next_attempt_at = now() + $1 * interval '1 millisecond' \
         WHERE notification_id IN (SELECT notification_id FROM deliveries \
             WHERE status = 'PENDING' AND next_attempt_at <= now() \
             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    ))
    .bind::<BigInt, _>(lease_ms)
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await
}

/// Records one attempt on a delivery that is still PENDING with `attempts_before`
/// attempts (so two senders never both count the same attempt); `false` when
/// someone else got there first.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    notification_id: Uuid,
    attempts_before: i32,
    attempt: Attempt<'_>,
) -> Result<bool> {
    diesel::sql_query(
        "UPDATE deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
         next_attempt_at = $5, delivered_at = $6 \
         WHERE notification_id = $1 AND status = 'PENDING' AND attempts = $2",
    )
    .bind::<SqlUuid, _>(notification_id)
    .bind::<Int4, _>(attempts_before)
    .bind::<Text, _>(attempt.status)
    .bind::<Text, _>(attempt.last_error)
    .bind::<Timestamptz, _>(attempt.next_attempt_at)
    .bind::<Nullable<Timestamptz>, _>(attempt.delivered_at)
    .prepared()
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// When the next PENDING delivery is due, if any is.
pub async fn next_due(conn: &mut AsyncPgConnection) -> Result<Option<DateTime<Utc>>> {
    diesel::sql_query("SELECT min(next_attempt_at) AS at FROM deliveries WHERE status = 'PENDING'")
        .prepared()
        .get_result::<Due>(conn)
        .await
        .map(|due| due.at)
}

/// A booking's deliveries, oldest first.
pub async fn deliveries_of(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<DeliveryRow>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM deliveries WHERE booking_number = $1 ORDER BY created_at, notification_id"
    ))
    .bind::<Text, _>(booking_number)
    .prepared()
    .load(conn)
    .await
}
