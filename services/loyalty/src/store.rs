//! One function per query.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct EntryRow {
    #[diesel(sql_type = SqlUuid)]
    pub entry_id: Uuid,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct BalanceRow {
    #[diesel(sql_type = BigInt)]
    balance: i64,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

const COLUMNS: &str = "entry_id, customer_id, booking_number, kind, points, reason, created_at";

/// Serializes the transactions that touch one booking's entries (until commit),
/// so that a confirmation and a cancellation handled at once see each other.
pub async fn lock_booking(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('loyalty/' || $1))")
        .bind::<Text, _>(booking_number)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn entries_of_booking(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<EntryRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM ledger WHERE booking_number = $1 ORDER BY created_at"))
        .bind::<Text, _>(booking_number)
        .load(conn)
        .await
}

/// Inserts an entry unless the booking has one of its kind; `true` when inserted.
pub async fn insert_entry(conn: &mut AsyncPgConnection, e: &EntryRow) -> Result<bool> {
    diesel::sql_query(format!(
        "INSERT INTO ledger ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (booking_number, kind) DO NOTHING"
    ))
    .bind::<SqlUuid, _>(e.entry_id)
    .bind::<Text, _>(&e.customer_id)
    .bind::<Text, _>(&e.booking_number)
    .bind::<Text, _>(&e.kind)
    .bind::<BigInt, _>(e.points)
    .bind::<Text, _>(&e.reason)
    .bind::<Timestamptz, _>(e.created_at)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Adds `points` (positive) to the customer's balance, opening it if needed.
pub async fn credit(conn: &mut AsyncPgConnection, customer_id: &str, points: i64) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO balances (customer_id, balance) VALUES ($1, $2) \
         ON CONFLICT (customer_id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance",
    )
    .bind::<Text, _>(customer_id)
    .bind::<BigInt, _>(points)
    .execute(conn)
    .await
    .map(drop)
}

/// Takes `points` (positive) from the customer's balance; `false` when the
/// customer has none. (Not an upsert: Postgres checks `balance >= 0` on the
/// row an upsert proposes before it finds the conflict.)
pub async fn debit(conn: &mut AsyncPgConnection, customer_id: &str, points: i64) -> Result<bool> {
    diesel::sql_query("UPDATE balances SET balance = balance - $2 WHERE customer_id = $1")
        .bind::<Text, _>(customer_id)
        .bind::<BigInt, _>(points)
        .execute(conn)
        .await
        .map(|n| n == 1)
}

pub async fn balance(conn: &mut AsyncPgConnection, customer_id: &str) -> Result<Option<i64>> {
    diesel::sql_query("SELECT balance FROM balances WHERE customer_id = $1")
        .bind::<Text, _>(customer_id)
        .get_result::<BalanceRow>(conn)
        .await
        .optional()
        .map(|row| row.map(|r| r.balance))
}

/// Up to `limit` of the customer's entries, newest first, strictly after
/// `after` (created_at, entry_id) in that order when given.
pub async fn history(
    conn: &mut AsyncPgConnection,
    customer_id: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<EntryRow>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM ledger WHERE customer_id = $1 \
         AND ($2::timestamptz IS NULL OR (created_at, entry_id) < ($2, $3)) \
         ORDER BY created_at DESC, entry_id DESC LIMIT $4"
    ))
    .bind::<Text, _>(customer_id)
    .bind::<Nullable<Timestamptz>, _>(after.map(|(t, _)| t))
    .bind::<Nullable<SqlUuid>, _>(after.map(|(_, id)| id))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
