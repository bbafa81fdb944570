//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

type Result<T> = std::result::Result<T, diesel::result::Error>;

/// A saga as stored: its state and everything the steps learned.
#[derive(Clone, Debug, PartialEq, diesel::QueryableByName)]
pub struct SagaRow {
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub request_id: String,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = SqlUuid)]
    pub screening_id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    pub seat_ids: Vec<String>,
    #[diesel(sql_type = Text)]
    pub card_token: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub amount: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub payment_id: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub hold_expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub movie_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub screen_name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub starts_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    pub correlation_id: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The fencing token of the lease this copy was read under.
    #[diesel(sql_type = SqlUuid)]
    pub lease_token: Uuid,
    /// The trace context of the BookTickets call (empty when it was not traced).
    #[diesel(sql_type = Text)]
    pub traceparent: String,
}

const COLUMNS: &str = "booking_number, request_id, customer_id, screening_id, seat_ids, card_token, state, reason, \
    currency, amount, payment_id, hold_expires_at, movie_title, screen_name, starts_at, correlation_id, attempts, \
    created_at, lease_token, traceparent";

const TERMINAL: &str = "('CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')";

/// Inserts a new saga leased to the caller; `false` when the request id is taken.
pub async fn insert(conn: &mut AsyncPgConnection, saga: &SagaRow, lease_until: DateTime<Utc>) -> Result<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO sagas (booking_number, request_id, customer_id, screening_id, seat_ids, card_token, state, \
         correlation_id, lease_until, lease_token, created_at, traceparent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind::<Text, _>(&saga.booking_number)
    .bind::<Text, _>(&saga.request_id)
    .bind::<Text, _>(&saga.customer_id)
    .bind::<SqlUuid, _>(saga.screening_id)
    .bind::<Array<Text>, _>(&saga.seat_ids)
    .bind::<Text, _>(&saga.card_token)
    .bind::<Text, _>(&saga.state)
    .bind::<Text, _>(&saga.correlation_id)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<SqlUuid, _>(saga.lease_token)
    .bind::<Timestamptz, _>(saga.created_at)
    .bind::<Text, _>(&saga.traceparent)
    .prepared()
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

pub async fn by_request(conn: &mut AsyncPgConnection, request_id: &str) -> Result<Option<SagaRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM sagas WHERE request_id = $1"))
        .bind::<Text, _>(request_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn by_number(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<SagaRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM sagas WHERE booking_number = $1"))
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// Takes the lease of one saga if nobody holds it; returns the saga with its
/// new fencing token.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    booking_number: &str,
    lease_until: DateTime<Utc>,
) -> Result<Option<SagaRow>> {
    diesel::sql_query(format!(
        "UPDATE sagas SET lease_until = $2, lease_token = gen_random_uuid() \
         WHERE booking_number = $1 AND (lease_until IS NULL OR lease_until < now()) RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(booking_number)
    .bind::<Timestamptz, _>(lease_until)
    .prepared()
    .get_result(conn)
    .await
    .optional()
}

/// How many unfinished sagas are in each state.
pub async fn unfinished_by_state(conn: &mut AsyncPgConnection) -> Result<Vec<(String, i64)>> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = Text)]
        state: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let counts: Vec<Count> = diesel::sql_query(
        "SELECT state, count(*) AS n FROM sagas WHERE state NOT IN ('CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED') \
         GROUP BY state",
    )
    .prepared()
    .load(conn)
    .await?;
    Ok(counts.into_iter().map(|c| (c.state, c.n)).collect())
}

/// Takes the leases of up to `limit` unfinished sagas that are due.
pub async fn claim_due(conn: &mut AsyncPgConnection, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<SagaRow>> {
    diesel::sql_query(format!(
        "UPDATE sagas SET lease_until = $2, lease_token = gen_random_uuid() WHERE booking_number IN ( \
             SELECT booking_number FROM sagas WHERE state NOT IN {TERMINAL} AND next_run_at <= now() \
             AND (lease_until IS NULL OR lease_until < now()) ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<Timestamptz, _>(lease_until)
    .prepared()
    .load(conn)
    .await
}

const STEP_COLUMNS: &str = "booking_number, state, step, attempt, outcome, detail, started_at, runner, correlation_id, lease_token, next_state";

/// The columns a step changes, `$2` to `$13` (`$1` is the booking number, `$14` the
/// lease token).
const SAVE_SET: &str = "state = $2, reason = $3, currency = $4, amount = $5, payment_id = $6, hold_expires_at = $7, \
     movie_title = $8, screen_name = $9, starts_at = $10, attempts = $11, next_run_at = $12, lease_until = $13, \
     updated_at = now()";

/// Saves what a step changed; `next_run_at` schedules the next attempt and
/// `lease_until` keeps (Some) or gives up (None) the lease. `false`: the lease
/// was taken over (another token), and nothing was written.
pub async fn save(
    conn: &mut AsyncPgConnection,
    saga: &SagaRow,
    next_run_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
) -> Result<bool> {
    bind_save(
        diesel::sql_query(format!("UPDATE sagas SET {SAVE_SET} WHERE booking_number = $1 AND lease_token = $14")),
        saga,
        next_run_at,
        lease_until,
    )
    .prepared()
    .execute(conn)
    .await
    .map(|updated| updated == 1)
}

/// [`save`] and a line of the saga's history in one statement, so in one round trip and, outside a
/// transaction, one commit: the history line is written only when the saga was
/// (under its lease). `false`: the lease was taken over, and nothing was written.
pub async fn save_step(
    conn: &mut AsyncPgConnection,
    saga: &SagaRow,
    next_run_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    r: StepRecord<'_>,
) -> Result<bool> {
    let query = diesel::sql_query(format!(
        "WITH saved AS (UPDATE sagas SET {SAVE_SET} WHERE booking_number = $1 AND lease_token = $14 \
         RETURNING booking_number) \
         INSERT INTO saga_steps ({STEP_COLUMNS}) \
         SELECT booking_number, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24 FROM saved"
    ));
    bind_step(bind_save(query, saga, next_run_at, lease_until), &r)
        .prepared()
        .execute(conn)
        .await
        .map(|inserted| inserted == 1)
}

type Boxed<'a> = diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery>;

fn bind_save<'a>(
    query: diesel::query_builder::SqlQuery,
    saga: &'a SagaRow,
    next_run_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
) -> Boxed<'a> {
    query
        .into_boxed()
        .bind::<Text, _>(&saga.booking_number)
        .bind::<Text, _>(&saga.state)
        .bind::<Text, _>(&saga.reason)
        .bind::<Nullable<Text>, _>(&saga.currency)
        .bind::<Nullable<BigInt>, _>(saga.amount)
        .bind::<Nullable<Text>, _>(&saga.payment_id)
        .bind::<Nullable<Timestamptz>, _>(saga.hold_expires_at)
        .bind::<Nullable<Text>, _>(&saga.movie_title)
        .bind::<Nullable<Text>, _>(&saga.screen_name)
        .bind::<Nullable<Timestamptz>, _>(saga.starts_at)
        .bind::<Int4, _>(saga.attempts)
        .bind::<Timestamptz, _>(next_run_at)
        .bind::<Nullable<Timestamptz>, _>(lease_until)
        .bind::<SqlUuid, _>(saga.lease_token)
}

/// This transaction's commit does not wait for its WAL to reach the disk.
pub async fn commit_without_flush(conn: &mut AsyncPgConnection) -> Result<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off").prepared().execute(conn).await.map(drop)
}

/// Gives up a lease (when the saga has nothing left to do).
pub async fn release(conn: &mut AsyncPgConnection, saga: &SagaRow) -> Result<()> {
    diesel::sql_query("UPDATE sagas SET lease_until = NULL WHERE booking_number = $1 AND lease_token = $2")
        .bind::<Text, _>(&saga.booking_number)
        .bind::<SqlUuid, _>(saga.lease_token)
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

/// Turns a CONFIRMED saga into a cancellation due now; `false` when it is not
/// CONFIRMED (any more).
pub async fn begin_cancel(conn: &mut AsyncPgConnection, booking_number: &str, reason: &str) -> Result<bool> {
    diesel::sql_query(
        "UPDATE sagas SET state = 'MARKING_CANCELLING', reason = $2, attempts = 0, next_run_at = now(), \
         updated_at = now() WHERE booking_number = $1 AND state = 'CONFIRMED'",
    )
    .bind::<Text, _>(booking_number)
    .bind::<Text, _>(reason)
    .prepared()
    .execute(conn)
    .await
    .map(|updated| updated == 1)
}

/// One line of the saga's history (of the saga it is saved with).
pub struct StepRecord<'a> {
    pub state: &'a str,
    pub step: &'a str,
    pub attempt: i32,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub started_at: DateTime<Utc>,
    /// The replica that ran the attempt.
    pub runner: &'a str,
    pub correlation_id: &'a str,
    /// The fencing token of the lease it ran under.
    pub lease_token: Uuid,
    /// Where the saga went; `None` when the step is retried.
    pub next_state: Option<&'a str>,
}

/// Binds a history line but its booking number (that comes from the saved saga).
fn bind_step<'a>(query: Boxed<'a>, r: &StepRecord<'a>) -> Boxed<'a> {
    query
        .bind::<Text, _>(r.state)
        .bind::<Text, _>(r.step)
        .bind::<Int4, _>(r.attempt)
        .bind::<Text, _>(r.outcome)
        .bind::<Text, _>(r.detail)
        .bind::<Timestamptz, _>(r.started_at)
        .bind::<Text, _>(r.runner)
        .bind::<Text, _>(r.correlation_id)
        .bind::<SqlUuid, _>(r.lease_token)
        .bind::<Nullable<Text>, _>(r.next_state)
}

/// What an operator sees of a saga besides its history.
#[derive(Clone, Debug, PartialEq, diesel::QueryableByName)]
pub struct SagaHead {
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub request_id: String,
    #[diesel(sql_type = Text)]
    pub correlation_id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub next_run_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub lease_until: Option<DateTime<Utc>>,
}

const HEAD: &str = "booking_number, request_id, correlation_id, state, reason, attempts, created_at, updated_at, next_run_at, lease_until";

pub async fn head(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<SagaHead>> {
    diesel::sql_query(format!("SELECT {HEAD} FROM sagas WHERE booking_number = $1"))
        .bind::<Text, _>(booking_number)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// Makes a saga due now (an operator's RetryNow); `None` when it does not
/// exist. Locks the row until the transaction ends.
pub async fn make_due(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Option<SagaHead>> {
    diesel::sql_query(format!(
        "UPDATE sagas SET next_run_at = now() WHERE booking_number = $1 AND state NOT IN {TERMINAL} RETURNING {HEAD}"
    ))
    .bind::<Text, _>(booking_number)
    .prepared()
    .get_result(conn)
    .await
    .optional()
}

/// One step attempt as stored.
#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct StepRow {
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub step: String,
    #[diesel(sql_type = Int4)]
    pub attempt: i32,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Text)]
    pub detail: String,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub finished_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub runner: String,
    #[diesel(sql_type = Text)]
    pub correlation_id: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub lease_token: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub next_state: Option<String>,
}

/// A saga's step attempts, oldest first.
pub async fn steps(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<StepRow>> {
    diesel::sql_query(
        "SELECT state, step, attempt, outcome, detail, started_at, finished_at, runner, correlation_id, lease_token, \
         next_state FROM saga_steps WHERE booking_number = $1 ORDER BY id",
    )
    .bind::<Text, _>(booking_number)
    .prepared()
    .load(conn)
    .await
}

/// One operator action, to record.
pub struct AuditRecord<'a> {
    pub booking_number: &'a str,
    pub operator: &'a str,
    /// `RETRY_NOW` or `FORCE_COMPENSATE`.
    pub action: &'a str,
    pub reason: &'a str,
    pub state_before: &'a str,
    pub state_after: &'a str,
    pub correlation_id: &'a str,
}

pub async fn record_audit(conn: &mut AsyncPgConnection, r: AuditRecord<'_>) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO saga_audit (booking_number, operator, action, reason, state_before, state_after, correlation_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind::<Text, _>(r.booking_number)
    .bind::<Text, _>(r.operator)
    .bind::<Text, _>(r.action)
    .bind::<Text, _>(r.reason)
    .bind::<Text, _>(r.state_before)
    .bind::<Text, _>(r.state_after)
    .bind::<Text, _>(r.correlation_id)
    .prepared()
    .execute(conn)
    .await
    .map(drop)
}

/// One operator action as stored.
#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct AuditRow {
    #[diesel(sql_type = Text)]
    pub operator: String,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Text)]
    pub state_before: String,
    #[diesel(sql_type = Text)]
    pub state_after: String,
    #[diesel(sql_type = Text)]
    pub correlation_id: String,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// A saga's operator actions, oldest first.
pub async fn audit(conn: &mut AsyncPgConnection, booking_number: &str) -> Result<Vec<AuditRow>> {
    diesel::sql_query(
        "SELECT operator, action, reason, state_before, state_after, correlation_id, at FROM saga_audit \
         WHERE booking_number = $1 ORDER BY id",
    )
    .bind::<Text, _>(booking_number)
    .prepared()
    .load(conn)
    .await
}
