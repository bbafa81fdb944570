//! Idempotent consumers: record the event id in the same transaction as the
//! effect; a redelivered event finds its row and is skipped. An event that can
//! never be handled is set aside (`poison_events`) and acked.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::store::Prepare as _;

/// `true` the first time `consumer` sees `event_id`, `false` ever after.
pub async fn first_time(conn: &mut AsyncPgConnection, consumer: &str, event_id: &str) -> anyhow::Result<bool> {
    let event_id: uuid::Uuid = event_id.parse().map_err(|e| anyhow::anyhow!("event id {event_id:?}: {e}"))?;
    let inserted = diesel::sql_query("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind::<Text, _>(consumer)
        .bind::<SqlUuid, _>(event_id)
        .prepared()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Keeps an event `consumer` can never handle (undecodable payload, event id
/// that is not a UUID) in `poison_events` for a human, so the caller can ack it
/// and block nothing; `true` the first time.
pub async fn set_aside(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    envelope: &cinema_proto::events::v1::Envelope,
    why: &str,
) -> anyhow::Result<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO poison_events (consumer, event_id, event_type, payload, error) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(consumer)
    .bind::<Text, _>(&envelope.event_id)
    .bind::<Text, _>(&envelope.event_type)
    .bind::<diesel::sql_types::Bytea, _>(&envelope.payload)
    .bind::<Text, _>(why)
    .prepared()
    .execute(conn)
    .await?;
    tracing::error!(message = "Poison event set aside.", consumer, event_id = %envelope.event_id, event_type = %envelope.event_type, error = why);
    Ok(inserted == 1)
}
