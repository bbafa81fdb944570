//! The transactional outbox. [`enqueue`] writes the event in the caller's
//! transaction, so a state change and its event commit together or not at
//! all. [`Relay::run`] publishes unpublished rows in order, with
//! `Nats-Msg-Id` = event id, and marks them; a crash between publish and mark
//! republishes, and JetStream drops the duplicate.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cinema_proto::events::v1::Envelope;
use cinema_proto::topics::Topic;
use diesel::sql_types::{BigInt, Bytea, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use prost::Message;
use tokio::sync::Notify;

use crate::Shutdown;
use crate::bus::Bus;
use crate::store::{Pool, Prepare as _};

/// The event an operation emits.
pub struct Event<'a, M: Message> {
    pub topic: Topic,
    /// What changed: a screening id, a booking number.
    pub aggregate_id: &'a str,
    /// Its version after the change.
    pub aggregate_version: u64,
    pub payload: &'a M,
    pub correlation_id: &'a str,
    /// The request or event that caused this one.
    pub causation_id: &'a str,
}

/// Writes `event` to the outbox inside the caller's transaction; returns its id.
pub async fn enqueue<M: Message>(conn: &mut AsyncPgConnection, event: Event<'_, M>) -> anyhow::Result<uuid::Uuid> {
    let event_id = uuid::Uuid::now_v7();
    let now = std::time::SystemTime::now();
    let envelope = Envelope {
        event_id: event_id.to_string(),
        event_type: event.topic.event_type.into(),
        occurred_at: Some(now.into()),
        aggregate_id: event.aggregate_id.into(),
        aggregate_version: event.aggregate_version,
        correlation_id: event.correlation_id.into(),
        causation_id: event.causation_id.into(),
        payload: event.payload.encode_to_vec(),
    };
    diesel::sql_query(
        "INSERT INTO outbox (event_id, subject, envelope, correlation_id, traceparent) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind::<SqlUuid, _>(event_id)
    .bind::<Text, _>(event.topic.subject)
    .bind::<Bytea, _>(envelope.encode_to_vec())
    .bind::<Text, _>(event.correlation_id)
    .bind::<Text, _>(crate::telemetry::current_traceparent().unwrap_or_default())
    .prepared()
    .execute(conn)
    .await
    .context("insert outbox row")?;
    Ok(event_id)
}

/// Publishes the outbox. Wake it after a commit with [`Relay::wake`]; it also
/// polls, so rows committed by another replica or before a crash go out too.
#[derive(Clone)]
pub struct Relay {
    pool: Pool,
    bus: Bus,
    wake: Arc<Notify>,
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = SqlUuid)]
    event_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Bytea)]
    envelope: Vec<u8>,
    #[diesel(sql_type = Text)]
    correlation_id: String,
    #[diesel(sql_type = Text)]
    traceparent: String,
    #[diesel(sql_type = diesel::sql_types::Double)]
    age_secs: f64,
}

const BATCH: i64 = 100;
const POLL: Duration = Duration::from_millis(500);
/// How often the backlog gauge is refreshed.
const BACKLOG_SAMPLE: Duration = Duration::from_secs(1);

impl Relay {
    pub fn new(pool: Pool, bus: Bus) -> Self {
        Self { pool, bus, wake: Arc::new(Notify::new()) }
    }

    /// Call after committing a transaction that enqueued events.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        let mut streams_ready = false;
        let mut sampled = tokio::time::Instant::now() - BACKLOG_SAMPLE;
        // Every round ends within POLL or the 1 s backoff cap: a minute of silence is a hang.
        let heartbeat = crate::watchdog::heartbeat("outbox relay", Duration::from_secs(60));
        while !shutdown.is_cancelled() {
            heartbeat.beat();
            if !streams_ready {
                streams_ready = self.bus.ensure_streams().await.is_ok();
            }
            let published = self.publish_batch().await;
            if sampled.elapsed() >= BACKLOG_SAMPLE {
                sampled = tokio::time::Instant::now();
                if let Ok(backlog) = self.backlog().await {
                    metrics::gauge!(crate::metrics::OUTBOX_BACKLOG).set(backlog as f64);
                }
            }
            match published {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(message = "Outbox relay failed; retrying.", error = format!("{error:#}"));
                    streams_ready = false;
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    // Capped at 1 s: after a broker outage the backlog drains within a second.
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Rows not yet published.
    async fn backlog(&self) -> anyhow::Result<i64> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.context("get a connection")?;
        let count: Count = diesel::sql_query("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            .prepared()
            .get_result(&mut conn)
            .await
            .context("count the backlog")?;
        Ok(count.n)
    }

    /// Publishes up to one batch in order; returns how many went out.
    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await.context("get a connection")?;
        let bus = self.bus.clone();
        conn.transaction::<_, anyhow::Error, _>(async |c| {
            let rows: Vec<Row> = diesel::sql_query(
                "SELECT id, event_id, subject, envelope, correlation_id, traceparent, \
                        EXTRACT(EPOCH FROM clock_timestamp() - created_at)::float8 AS age_secs \
                 FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<BigInt, _>(BATCH)
            .prepared()
            .load(c)
            .await
            .context("select unpublished")?;
            if rows.is_empty() {
                return Ok(0);
            }
            // All sent, then all acks awaited: JetStream stores the batch in one flush.
            // A failed ack rolls every mark back; what did go out is sent again and
            // dropped as a duplicate (its Nats-Msg-Id). A message stored after a failed
            // one is read before its resend: consumers already take events out of order
            // (redeliveries reorder them too; the view orders by aggregate version).
            let mut acks = Vec::with_capacity(rows.len());
            for row in &rows {
                let traceparent = Some(row.traceparent.as_str()).filter(|t| !t.is_empty());
                acks.push(
                    bus.send(&row.subject, &row.envelope, &row.event_id.to_string(), &row.correlation_id, traceparent)
                        .await?,
                );
            }
            for (row, ack) in rows.iter().zip(acks) {
                ack.await.context("wait for the publish ack")?;
                metrics::histogram!(crate::metrics::OUTBOX_PUBLISH_LAG).record(row.age_secs.max(0.0));
            }
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            // The marks need not wait for the disk: a Postgres crash that loses them has
            // the rows published again, and JetStream (or the consumers' inbox) drops them.
            diesel::sql_query("SET LOCAL synchronous_commit = off")
                .prepared()
                .execute(c)
                .await
                .context("commit mode")?;
            diesel::sql_query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                .bind::<diesel::sql_types::Array<BigInt>, _>(&ids)
                .prepared()
                .execute(c)
                .await
                .context("mark published")?;
            metrics::counter!(crate::metrics::OUTBOX_PUBLISHED).increment(rows.len() as u64);
            Ok(rows.len())
        })
        .await
    }
}
