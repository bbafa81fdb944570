//! One function per query.

use chrono::{DateTime, Utc};
use cinema_mesh::store::Prepare as _;
use diesel::OptionalExtension;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Clone, Debug, diesel::QueryableByName)]
pub struct PaymentRow {
    #[diesel(sql_type = SqlUuid)]
    pub payment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub charge_key: String,
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub customer_id: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub provider_reference: String,
    #[diesel(sql_type = Text)]
    pub decline_reason: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub refund_key: Option<String>,
    #[diesel(sql_type = Text)]
    pub refund_reason: String,
    #[diesel(sql_type = Text)]
    pub merchant_id: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

type Result<T> = std::result::Result<T, diesel::result::Error>;

const COLUMNS: &str = "payment_id, charge_key, booking_number, customer_id, currency, amount, status, \
     provider_reference, decline_reason, refund_key, refund_reason, merchant_id, created_at, updated_at";

/// Inserts the payment unless its charge key is taken; the row as stored
/// (timestamps at the database's precision), or `None` when the key was taken.
pub async fn insert(conn: &mut AsyncPgConnection, p: &PaymentRow) -> Result<Option<PaymentRow>> {
    diesel::sql_query(format!(
        "INSERT INTO payments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (charge_key) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(p.payment_id)
    .bind::<Text, _>(&p.charge_key)
    .bind::<Text, _>(&p.booking_number)
    .bind::<Text, _>(&p.customer_id)
    .bind::<Text, _>(&p.currency)
    .bind::<BigInt, _>(p.amount)
    .bind::<Text, _>(&p.status)
    .bind::<Text, _>(&p.provider_reference)
    .bind::<Text, _>(&p.decline_reason)
    .bind::<Nullable<Text>, _>(&p.refund_key)
    .bind::<Text, _>(&p.refund_reason)
    .bind::<Text, _>(&p.merchant_id)
    .bind::<Timestamptz, _>(p.created_at)
    .bind::<Timestamptz, _>(p.updated_at)
    .prepared()
    .get_result(conn)
    .await
    .optional()
}

pub async fn by_charge_key(conn: &mut AsyncPgConnection, charge_key: &str) -> Result<Option<PaymentRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE charge_key = $1"))
        .bind::<Text, _>(charge_key)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn by_refund_key(conn: &mut AsyncPgConnection, refund_key: &str) -> Result<Option<PaymentRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE refund_key = $1"))
        .bind::<Text, _>(refund_key)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn payment(conn: &mut AsyncPgConnection, payment_id: Uuid) -> Result<Option<PaymentRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE payment_id = $1"))
        .bind::<SqlUuid, _>(payment_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// The payment, locked until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, payment_id: Uuid) -> Result<Option<PaymentRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE payment_id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(payment_id)
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

pub async fn mark_refunded(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
    refund_key: &str,
    reason: &str,
) -> Result<PaymentRow> {
    diesel::sql_query(format!(
        "UPDATE payments SET status = 'REFUNDED', refund_key = $2, refund_reason = $3, updated_at = now() \
         WHERE payment_id = $1 RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(payment_id)
    .bind::<Text, _>(refund_key)
    .bind::<Text, _>(reason)
    .prepared()
    .get_result(conn)
    .await
}
