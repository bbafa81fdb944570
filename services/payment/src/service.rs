//! Use cases. Each owns its transaction and enqueues its events in it.

use anyhow::Context;
use chrono::Utc;
use cinema_mesh::outbox::{self, Event, Relay};
use cinema_mesh::store::{Pool, get};
use cinema_proto::common::v1::Money;
use cinema_proto::events::v1::{PaymentCaptured, PaymentDeclined, PaymentRefunded};
use cinema_proto::topics;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use crate::acquirer::{Acquirer, Answer};
use crate::domain::{self, Charge, Key, PaymentStatus, Refund};
use crate::store::{self, PaymentRow};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("payment {0} does not exist")]
    PaymentNotFound(Uuid),
    #[error("payment {0} was not captured; there is nothing to refund")]
    NotCaptured(Uuid),
    #[error("refund key {key:?} was already used for payment {payment_id}")]
    RefundKeyReused { key: String, payment_id: Uuid },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

#[derive(Clone)]
pub struct Service {
    pool: Pool,
    relay: Relay,
    acquirer: Acquirer,
    merchant_id: String,
}

impl Service {
    pub fn new(pool: Pool, relay: Relay, acquirer: Acquirer, merchant_id: String) -> Self {
        Self { pool, relay, acquirer, merchant_id }
    }

    /// Charges once per key: a known key answers with its payment; a new one
    /// asks the acquirer (itself idempotent on the key), then records the
    /// answer and its event together.
    #[tracing::instrument(skip_all, fields(booking_number = %charge.booking_number))]
    pub async fn charge(&self, charge: Charge, correlation_id: &str) -> Result<PaymentRow, Error> {
        {
            let mut conn = get(&self.pool).await?;
            if let Some(existing) =
                store::by_charge_key(&mut conn, charge.key.as_str()).await.context("look the charge key up")?
            {
                return Ok(existing);
            }
        } // No connection is held while the acquirer thinks.
        let answer = self
            .acquirer
            .authorize_and_capture(&self.merchant_id, charge.key.as_str(), &charge.card_token, &charge.amount)
            .await;
        let now = Utc::now();
        let (status, provider_reference, decline_reason) = match answer {
            Answer::Captured { reference } => (PaymentStatus::Captured, reference, String::new()),
            Answer::Declined { reason } => (PaymentStatus::Declined, String::new(), reason),
        };
        let row = PaymentRow {
            payment_id: Uuid::now_v7(),
            charge_key: charge.key.as_str().to_owned(),
            booking_number: charge.booking_number,
            customer_id: charge.customer_id,
            currency: charge.amount.currency,
            amount: charge.amount.amount,
            status: status.as_str().to_owned(),
            provider_reference,
            decline_reason,
            refund_key: None,
            refund_reason: String::new(),
            merchant_id: self.merchant_id.clone(),
            created_at: now,
            updated_at: now,
        };
        let mut conn = get(&self.pool).await?;
        let (payment, inserted) = conn
            .transaction::<_, Error, _>(async |c| {
                let Some(payment) = store::insert(c, &row).await.context("insert payment")? else {
                    // A concurrent duplicate won: its answer is the answer.
                    let first = store::by_charge_key(c, &row.charge_key)
                        .await
                        .context("read the first payment")?
                        .context("a conflicting charge key has a row")?;
                    return Ok((first, false));
                };
                enqueue_outcome(c, &payment, status, correlation_id).await?;
                Ok((payment, true))
            })
            .await?;
        if inserted {
            self.relay.wake();
            tracing::info!(
                message = "Payment recorded.",
                payment_id = %payment.payment_id,
                status = %payment.status,
                amount = payment.amount,
                currency = %payment.currency,
            );
        }
        Ok(payment)
    }

    /// Refunds a captured payment in full, once; a refunded one is returned as is.
    #[tracing::instrument(skip_all, fields(%payment_id))]
    pub async fn refund(
        &self,
        key: Key,
        payment_id: Uuid,
        reason: &str,
        correlation_id: &str,
    ) -> Result<PaymentRow, Error> {
        let mut conn = get(&self.pool).await?;
        let (payment, refunded) = conn
            .transaction::<_, Error, _>(async |c| {
                let payment = store::lock(c, payment_id)
                    .await
                    .context("lock payment")?
                    .ok_or(Error::PaymentNotFound(payment_id))?;
                match domain::refund(PaymentStatus::from_db(&payment.status)) {
                    Refund::AlreadyRefunded => return Ok((payment, false)),
                    Refund::NotCaptured => return Err(Error::NotCaptured(payment_id)),
                    Refund::Apply => {}
                }
                if let Some(other) = store::by_refund_key(c, key.as_str()).await.context("look the refund key up")? {
                    return Err(Error::RefundKeyReused { key: key.as_str().to_owned(), payment_id: other.payment_id });
                }
                let payment =
                    store::mark_refunded(c, payment_id, key.as_str(), reason).await.context("mark payment refunded")?;
                let id = payment.payment_id.to_string();
                let event = PaymentRefunded {
                    payment_id: id.clone(),
                    booking_number: payment.booking_number.clone(),
                    customer_id: payment.customer_id.clone(),
                    amount: Some(Money { currency: payment.currency.clone(), amount: payment.amount }),
                };
                outbox::enqueue(
                    c,
                    Event {
                        topic: topics::PAYMENT_REFUNDED,
                        aggregate_id: &id,
                        aggregate_version: 2,
                        payload: &event,
                        correlation_id,
                        causation_id: correlation_id,
                    },
                )
                .await?;
                Ok((payment, true))
            })
            .await?;
        if refunded {
            self.relay.wake();
            tracing::info!(message = "Payment refunded.", amount = payment.amount, currency = %payment.currency);
        }
        Ok(payment)
    }

    pub async fn payment(&self, payment_id: Uuid) -> Result<PaymentRow, Error> {
        let mut conn = get(&self.pool).await?;
        store::payment(&mut conn, payment_id).await.context("read payment")?.ok_or(Error::PaymentNotFound(payment_id))
    }
}

/// Enqueues `PaymentCaptured` or `PaymentDeclined` for a new payment.
async fn enqueue_outcome(
    c: &mut diesel_async::AsyncPgConnection,
    row: &PaymentRow,
    status: PaymentStatus,
    correlation_id: &str,
) -> Result<(), Error> {
    let id = row.payment_id.to_string();
    match status {
        PaymentStatus::Declined => {
            let payload = PaymentDeclined {
                payment_id: id.clone(),
                booking_number: row.booking_number.clone(),
                customer_id: row.customer_id.clone(),
                reason: row.decline_reason.clone(),
            };
            outbox::enqueue(
                c,
                Event {
                    topic: topics::PAYMENT_DECLINED,
                    aggregate_id: &id,
                    aggregate_version: 1,
                    payload: &payload,
                    correlation_id,
                    causation_id: correlation_id,
                },
            )
            .await?;
        }
        // A new payment is captured or declined, never refunded.
        PaymentStatus::Captured | PaymentStatus::Refunded => {
            let payload = PaymentCaptured {
                payment_id: id.clone(),
                booking_number: row.booking_number.clone(),
                customer_id: row.customer_id.clone(),
                amount: Some(Money { currency: row.currency.clone(), amount: row.amount }),
            };
            outbox::enqueue(
                c,
                Event {
                    topic: topics::PAYMENT_CAPTURED,
                    aggregate_id: &id,
                    aggregate_version: 1,
                    payload: &payload,
                    correlation_id,
                    causation_id: correlation_id,
                },
            )
            .await?;
        }
    }
    Ok(())
}
