//! The partner relay: sends `partner_deliveries` rows to the partner's HTTP(S)
//! endpoint until the partner has applied each one.
//!
//! One POST per ledger entry, JSON:
//! `{"idempotency_key", "partner_id", "member_number", "booking_number",
//! "kind": "ACCRUAL"|"REVOCATION", "points", "occurred_at"}` with the headers
//! `Idempotency-Key: <ledger entry id>` and, when configured,
//! `Authorization: Bearer <api_key>`. A send may be repeated (a lost answer, a
//! relay that died before recording it); the partner applies each key once,
//! which makes the effect exactly once. 2xx and 409 mean applied; 400, 410,
//! 413, 415 and 422 mean refused for good (FAILED); anything else, timeouts
//! included, is retried with backoff, for ever.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

use anyhow::Context;
use chrono::Utc;
use cinema_mesh::Shutdown;
use cinema_mesh::https::{self, Tls};
use cinema_mesh::store::{Pool, get};
use serde::Serialize;
use tokio::sync::Notify;

use crate::config;
use crate::domain::Answer;
use crate::store::{self, Attempt, PartnerRow};

const BATCH: i64 = 32;
/// The longest the relay sleeps: rows committed by another replica are seen
/// at least this often.
const POLL: Duration = Duration::from_secs(1);

/// The relay to the configured partner.
#[derive(Clone)]
pub struct Relay {
    pool: Pool,
    http: reqwest::Client,
    partner: config::Partner,
    wake: Arc<Notify>,
}

#[derive(Serialize)]
struct Body<'a> {
    idempotency_key: String,
    partner_id: &'a str,
    member_number: &'a str,
    booking_number: &'a str,
    kind: &'a str,
    /// Negative for a revocation.
    points: i64,
    occurred_at: String,
}

impl Relay {
    /// `None` when no partner is configured. HTTPS trusts what `tls` trusts.
    pub fn new(pool: Pool, partner: &config::Partner, tls: &Tls, wake: Arc<Notify>) -> anyhow::Result<Option<Self>> {
        if partner.id.trim().is_empty() {
            return Ok(None);
        }
        anyhow::ensure!(
            partner.url.starts_with("http://") || partner.url.starts_with("https://"),
            "partner.url must be an http:// or https:// URL, not {:?}",
            partner.url
        );
        let http = tls.client(Duration::from_millis(partner.timeout_ms.max(1)))?;
        Ok(Some(Self { pool, http, partner: partner.clone(), wake }))
    }

    /// Sends due rows until `shutdown`: woken after each commit that queued
    /// one, else when the next retry is due (at least every second).
    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let wait = match self.relay_batch().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    self.until_next_due().await
                }
                Err(error) => {
                    tracing::warn!(message = "Partner relay failed; retrying.", error = format!("{error:#}"));
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let due = match get(&self.pool).await {
            Ok(mut conn) => store::next_due(&mut conn, &self.partner.id).await.ok().flatten(),
            Err(_) => None,
        };
        due.map_or(POLL, |at| (at - Utc::now()).to_std().unwrap_or_default().min(POLL))
    }

    async fn relay_batch(&self) -> anyhow::Result<usize> {
        let lease = Duration::from_millis(self.partner.timeout_ms) + Duration::from_secs(10);
        let mut conn = get(&self.pool).await?;
        let claimed = store::claim_due(&mut conn, &self.partner.id, lease.as_millis() as i64, BATCH)
            .await
            .context("claim partner deliveries")?;
        let sends = claimed.iter().map(|row| async move {
            let span = tracing::info_span!(
                "relay",
                otel.name = format!("partner {}", row.kind.to_lowercase()),
                otel.kind = "client",
                booking_number = %row.booking_number,
                partner_id = %row.partner_id,
                attempt = row.attempts + 1,
            );
            cinema_mesh::telemetry::set_parent(&span, Some(row.traceparent.as_str()));
            (row, self.send(row).instrument(span).await)
        });
        for (row, answer) in futures::future::join_all(sends).await {
            self.record(&mut conn, row, answer).await?;
        }
        Ok(claimed.len())
    }

    async fn send(&self, row: &PartnerRow) -> (Answer, String) {
        let body = Body {
            idempotency_key: row.entry_id.to_string(),
            partner_id: &row.partner_id,
            member_number: &row.member_number,
            booking_number: &row.booking_number,
            kind: &row.kind,
            points: row.points,
            occurred_at: row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let mut request =
            self.http.post(&self.partner.url).header("Idempotency-Key", row.entry_id.to_string()).json(&body);
        if !self.partner.api_key.is_empty() {
            request = request.bearer_auth(&self.partner.api_key);
        }
        if let Some(traceparent) = cinema_mesh::telemetry::current_traceparent() {
            request = request.header(cinema_mesh::telemetry::TRACEPARENT, traceparent);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (Answer::of(status), format!("HTTP {status}"))
            }
            Err(e) if let Some(tls) = https::tls_failure(&e) => (Answer::Retry, format!("TLS: {tls}")),
            Err(e) if e.is_timeout() => (Answer::Retry, "timed out".into()),
            Err(e) if e.is_connect() => (Answer::Retry, "could not connect".into()),
            Err(e) => (Answer::Retry, format!("request failed: {e}")),
        }
    }

    async fn record(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        row: &PartnerRow,
        (answer, reason): (Answer, String),
    ) -> anyhow::Result<()> {
        let attempts = u32::try_from(row.attempts).unwrap_or_default() + 1;
        let now = Utc::now();
        let base = Duration::from_millis(self.partner.retry_base_ms);
        let wait = cinema_mesh::backoff::doubling(attempts, base, Duration::from_millis(self.partner.retry_max_ms));
        let status = match answer {
            Answer::Applied => "DELIVERED",
            Answer::Retry => "PENDING",
            Answer::Refused => "FAILED",
        };
        let attempt = Attempt {
            status,
            last_error: if answer == Answer::Applied { &row.last_error } else { &reason },
            next_attempt_at: now + wait,
            delivered_at: (answer == Answer::Applied).then_some(now),
        };
        let recorded =
            store::record_attempt(conn, row.entry_id, row.attempts, attempt).await.context("record relay attempt")?;
        let (entry_id, booking_number) = (row.entry_id, &row.booking_number);
        match answer {
            _ if !recorded => tracing::debug!(message = "Relay attempt raced; already recorded.", %entry_id),
            Answer::Applied => {
                tracing::info!(message = "Relayed to partner.", %entry_id, %booking_number, kind = %row.kind, attempts)
            }
            Answer::Retry => tracing::warn!(
                message = "Partner relay failed; will retry.", %entry_id, %booking_number, attempts,
                retry_in_ms = wait.as_millis() as u64, error = %reason
            ),
            Answer::Refused => tracing::error!(
                message = "Partner refused the entry for good.", %entry_id, %booking_number, attempts, error = %reason
            ),
        }
        Ok(())
    }
}
