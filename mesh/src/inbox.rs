//! Idempotent consumers: record the event id in the same transaction as the
//! effect; a redelivered event finds its row and is skipped.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// `true` the first time `consumer` sees `event_id`, `false` ever after.
pub async fn first_time(conn: &mut AsyncPgConnection, consumer: &str, event_id: &str) -> anyhow::Result<bool> {
    let event_id: uuid::Uuid = event_id.parse().map_err(|e| anyhow::anyhow!("event id {event_id:?}: {e}"))?;
    let inserted = diesel::sql_query("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind::<Text, _>(consumer)
        .bind::<SqlUuid, _>(event_id)
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}
