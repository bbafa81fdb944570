//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, QueryableByName)]
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

/// A history entry and, when it is relayed, its relay's state.
#[derive(Clone, Debug, QueryableByName)]
pub struct HistoryRow {
    #[diesel(embed)]
    pub entry: EntryRow,
    #[diesel(sql_type = Nullable<Text>)]
    pub relay_partner_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub relay_status: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub relay_attempts: Option<i32>,
}

#[derive(Clone, Debug, QueryableByName)]
pub struct LinkRow {
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = Text)]
    pub partner_id: String,
    #[diesel(sql_type = Text)]
    pub member_number: String,
    #[diesel(sql_type = Timestamptz)]
    pub linked_at: DateTime<Utc>,
}

/// One ledger entry on its way to a partner.
#[derive(Clone, Debug, QueryableByName)]
pub struct PartnerRow {
    #[diesel(sql_type = SqlUuid)]
    pub entry_id: Uuid,
    #[diesel(sql_type = Text)]
    pub partner_id: String,
    #[diesel(sql_type = Text)]
    pub member_number: String,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub last_error: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The trace context of the event that made the entry (empty when not traced).
    #[diesel(sql_type = Text)]
    pub traceparent: String,
}

/// What one relay attempt changed.
pub struct Attempt<'a> {
    pub status: &'a str,
    pub last_error: &'a str,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Bool)]
    found: bool,
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
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
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn entries_of_booking(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<EntryRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM ledger WHERE booking_number = $1 ORDER BY created_at"))
        .bind::<Text, _>(booking_number)
        .prepared()
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
    .prepared()
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
    .prepared()
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
        .prepared()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

pub async fn balance(conn: &mut AsyncPgConnection, customer_id: &str) -> Result<Option<i64>> {
    diesel::sql_query("SELECT balance FROM balances WHERE customer_id = $1")
        .bind::<Text, _>(customer_id)
        .prepared()
        .get_result::<BalanceRow>(conn)
        .await
        .optional()
        .map(|row| row.map(|r| r.balance))
}

/// Up to `limit` of the customer's entries, newest first, strictly after
/// `after` (created_at, entry_id) in that order when given, with their relays.
pub async fn history(
    conn: &mut AsyncPgConnection,
    customer_id: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<HistoryRow>> {
    diesel::sql_query(
        "SELECT l.entry_id, l.customer_id, l.booking_number, l.kind, l.points, l.reason, l.created_at, \
         p.partner_id AS relay_partner_id, p.status AS relay_status, p.attempts AS relay_attempts \
         FROM ledger l LEFT JOIN partner_deliveries p ON p.entry_id = l.entry_id WHERE l.customer_id = $1 \
         AND ($2::timestamptz IS NULL OR (l.created_at, l.entry_id) < ($2, $3)) \
         ORDER BY l.created_at DESC, l.entry_id DESC LIMIT $4",
    )
    .bind::<Text, _>(customer_id)
    .bind::<Nullable<Timestamptz>, _>(after.map(|(t, _)| t))
    .bind::<Nullable<SqlUuid>, _>(after.map(|(_, id)| id))
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await
}

/// Has the booking been cancelled (a CANCELLED event handled)?
pub async fn is_cancelled(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<bool> {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM cancelled_bookings WHERE booking_number = $1) AS found")
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result::<Found>(conn)
        .await
        .map(|f| f.found)
}

pub async fn record_cancellation(conn: &mut AsyncPgConnection, booking_number: &str, customer_id: &str) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO cancelled_bookings (booking_number, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(booking_number)
    .bind::<Text, _>(customer_id)
    .prepared()
    .execute(conn)
    .await
    .map(drop)
}

const LINK_COLUMNS: &str = "customer_id, partner_id, member_number, linked_at";

pub async fn link_of(conn: &mut AsyncPgConnection, customer_id: &str) -> Result<Option<LinkRow>> {
    diesel::sql_query(format!("SELECT {LINK_COLUMNS} FROM partner_links WHERE customer_id = $1"))
        .bind::<Text, _>(customer_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// Links (or re-links) the customer; returns the link as stored.
pub async fn upsert_link(
    conn: &mut AsyncPgConnection,
    customer_id: &str,
    partner_id: &str,
    member_number: &str,
) -> Result<LinkRow> {
    diesel::sql_query(format!(
        "INSERT INTO partner_links (customer_id, partner_id, member_number) VALUES ($1, $2, $3) \
         ON CONFLICT (customer_id) DO UPDATE SET partner_id = EXCLUDED.partner_id, \
         member_number = EXCLUDED.member_number, linked_at = now() RETURNING {LINK_COLUMNS}"
    ))
    .bind::<Text, _>(customer_id)
    .bind::<Text, _>(partner_id)
    .bind::<Text, _>(member_number)
    .prepared()
    .get_result(conn)
    .await
}

/// `true` when there was a link to remove.
pub async fn delete_link(conn: &mut AsyncPgConnection, customer_id: &str) -> Result<bool> {
    diesel::sql_query("DELETE FROM partner_links WHERE customer_id = $1")
        .bind::<Text, _>(customer_id)
        .prepared()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// The membership the booking's accrual was relayed to, if it was.
pub async fn accrual_relayed_to(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<LinkRow>> {
    diesel::sql_query(
        "SELECT customer_id, partner_id, member_number, created_at AS linked_at FROM partner_deliveries \
         WHERE booking_number = $1 AND kind = 'ACCRUAL'",
    )
    .bind::<Text, _>(booking_number)
    .prepared()
    .get_result(conn)
    .await
    .optional()
}

const PARTNER_COLUMNS: &str = "entry_id, partner_id, member_number, customer_id, booking_number, kind, points, \
                               attempts, last_error, created_at, traceparent";

/// Queues a ledger entry for the partner (in the entry's transaction).
pub async fn enqueue_partner(conn: &mut AsyncPgConnection, row: &PartnerRow) -> Result<()> {
    diesel::sql_query(format!(
        "INSERT INTO partner_deliveries ({PARTNER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind::<SqlUuid, _>(row.entry_id)
    .bind::<Text, _>(&row.partner_id)
    .bind::<Text, _>(&row.member_number)
    .bind::<Text, _>(&row.customer_id)
    .bind::<Text, _>(&row.booking_number)
    .bind::<Text, _>(&row.kind)
    .bind::<BigInt, _>(row.points)
    .bind::<Int4, _>(row.attempts)
    .bind::<Text, _>(&row.last_error)
    .bind::<Timestamptz, _>(row.created_at)
    .bind::<Text, _>(&row.traceparent)
    .prepared()
    .execute(conn)
    .await
    .map(drop)
}

/// Claims up to `limit` due PENDING rows for `partner_id` by pushing their due
/// time `lease_ms` ahead (a sender that dies leaves them due again). A
/// revocation waits while its booking's accrual is still PENDING, so the
/// partner never sees a revocation before the accrual it takes back.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    partner_id: &str,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<PartnerRow>> {
    diesel::sql_query(format!(
        "UPDATE partner_deliveries SET next_attempt_at = now() + $2 * interval '1 millisecond' \
         WHERE entry_id IN (SELECT d.entry_id FROM partner_deliveries d \
             WHERE d.status = 'PENDING' AND d.partner_id = $1 AND d.next_attempt_at <= now() \
             AND NOT (d.kind = 'REVOCATION' AND EXISTS (SELECT 1 FROM partner_deliveries a \
                 WHERE a.booking_number = d.booking_number AND a.kind = 'ACCRUAL' AND a.status = 'PENDING')) \
             ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING {PARTNER_COLUMNS}"
    ))
    .bind::<Text, _>(partner_id)
    .bind::<BigInt, _>(lease_ms)
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await
}

/// Records one attempt on a row still PENDING with `attempts_before`
/// attempts; `false` when another sender recorded it first.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    entry_id: Uuid,
    attempts_before: i32,
    attempt: Attempt<'_>,
) -> Result<bool> {
    diesel::sql_query(
        "UPDATE partner_deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
         next_attempt_at = $5, delivered_at = $6 WHERE entry_id = $1 AND status = 'PENDING' AND attempts = $2",
    )
    .bind::<SqlUuid, _>(entry_id)
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

/// When the next PENDING row for `partner_id` is due, if any is.
pub async fn next_due(conn: &mut AsyncPgConnection, partner_id: &str) -> Result<Option<DateTime<Utc>>> {
    diesel::sql_query(
        "SELECT min(next_attempt_at) AS at FROM partner_deliveries WHERE status = 'PENDING' AND partner_id = $1",
    )
    .bind::<Text, _>(partner_id)
    .prepared()
    .get_result::<Due>(conn)
    .await
    .map(|due| due.at)
}
