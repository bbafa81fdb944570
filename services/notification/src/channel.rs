//! Where a notification goes: `log`, `kakao` (an Alimtalk-style HTTP API) and
//! `webhook` (a signed JSON POST). One name and one `deliver` arm each. Both
//! HTTP channels take `http://` or `https://` URLs (see [`cinema_mesh::https`]).
//!
//! A send either succeeds (any 2xx), fails for now ([`Failure::Retry`]: a
//! timeout, a refused connection, an untrusted certificate, 5xx, 429, ...) or
//! fails for good ([`Failure::Permanent`]: see [`domain::is_permanent`]). Every request
//! carries `Idempotency-Key: <event id>`: a send whose answer was lost is
//! sent again, and the receiver dedupes on the key.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cinema_mesh::https::{self, Tls};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{self, Config};
use crate::domain::{self, Notified};
use crate::signature::{self, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// What a channel needs to send one notification.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub notification_id: Uuid,
    pub event_id: Uuid,
    pub booking_number: &'a str,
    pub customer_id: &'a str,
    pub status: Notified,
    pub text: &'a str,
    pub created_at: DateTime<Utc>,
}

/// Why a send failed, and whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Retry(String),
    Permanent(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Self::Retry(reason) | Self::Permanent(reason) => reason,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Channel {
    /// A structured `info!` line: for development and as the fallback.
    Log,
    Kakao(Kakao),
    Webhook(Webhook),
}

#[derive(Clone, Debug)]
pub struct Kakao {
    http: reqwest::Client,
    timeout: Duration,
    url: String,
    sender_key: String,
    secret_key: String,
    templates: config::Templates,
}

#[derive(Clone, Debug)]
pub struct Webhook {
    http: reqwest::Client,
    timeout: Duration,
    url: String,
    secret: String,
}

impl Channel {
    /// Builds a configured channel by name; HTTPS trusts what `tls` trusts.
    pub fn parse(name: &str, config: &Config, tls: &Tls) -> anyhow::Result<Self> {
        match name.trim() {
            "log" => Ok(Self::Log),
            "kakao" => {
                let k = &config.kakao;
                anyhow::ensure!(!k.sender_key.trim().is_empty(), "the kakao channel needs kakao.sender_key");
                Ok(Self::Kakao(Kakao {
                    http: client(&k.url, k.timeout_ms, "kakao.url", tls)?,
                    timeout: Duration::from_millis(k.timeout_ms),
                    url: k.url.clone(),
                    sender_key: k.sender_key.clone(),
                    secret_key: k.secret_key.clone(),
                    templates: k.templates.clone(),
                }))
            }
            "webhook" => {
                let w = &config.webhook;
                anyhow::ensure!(w.secret.len() >= 16, "the webhook channel needs webhook.secret of 16 bytes or more");
                Ok(Self::Webhook(Webhook {
                    http: client(&w.url, w.timeout_ms, "webhook.url", tls)?,
                    timeout: Duration::from_millis(w.timeout_ms),
                    url: w.url.clone(),
                    secret: w.secret.clone(),
                }))
            }
            other => anyhow::bail!("unknown notification channel {other:?} (known: log, kakao, webhook)"),
        }
    }

    /// The name stored with each delivery.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Kakao(_) => "kakao",
            Self::Webhook(_) => "webhook",
        }
    }

    /// How long one send may take.
    pub fn timeout(&self) -> Duration {
        match self {
            Self::Log => Duration::ZERO,
            Self::Kakao(k) => k.timeout,
            Self::Webhook(w) => w.timeout,
        }
    }

    /// Sends one message.
    pub async fn deliver(&self, message: &Message<'_>) -> Result<(), Failure> {
        match self {
            Self::Log => {
                tracing::info!(
                    message = "Notification.",
                    booking_number = message.booking_number,
                    customer_id = message.customer_id,
                    channel = self.name(),
                    text = message.text,
                );
                Ok(())
            }
            Self::Kakao(kakao) => kakao.deliver(message).await,
            Self::Webhook(webhook) => webhook.deliver(message).await,
        }
    }
}

/// The Alimtalk request body: one recipient, the approved template's code and
/// the text rendered from it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlimtalkRequest<'a> {
    sender_key: &'a str,
    template_code: &'a str,
    recipient_list: [AlimtalkRecipient<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlimtalkRecipient<'a> {
    /// The customer; a deployment with phone numbers maps the id to one first.
    recipient_no: &'a str,
    content: &'a str,
    /// Ours, echoed in the provider's reports.
    client_reference: String,
}

impl Kakao {
    fn template(&self, status: Notified) -> &str {
        let t = &self.templates;
        match status {
            Notified::Pending => &t.pending,
            Notified::AwaitingPayment => &t.awaiting_payment,
            Notified::Confirmed => &t.confirmed,
            Notified::Rejected => &t.rejected,
            Notified::Expired => &t.expired,
            Notified::Cancelling => &t.cancelling,
            Notified::Cancelled => &t.cancelled,
        }
    }

    async fn deliver(&self, message: &Message<'_>) -> Result<(), Failure> {
        let body = AlimtalkRequest {
            sender_key: &self.sender_key,
            template_code: self.template(message.status),
            recipient_list: [AlimtalkRecipient {
                recipient_no: message.customer_id,
                content: message.text,
                client_reference: message.notification_id.to_string(),
            }],
        };
        let mut request =
            self.http.post(&self.url).header(IDEMPOTENCY_HEADER, message.event_id.to_string()).json(&body);
        if !self.secret_key.is_empty() {
            request = request.header("X-Secret-Key", &self.secret_key);
        }
        send(request).await
    }
}

/// The webhook body.
#[derive(Serialize)]
struct WebhookBody<'a> {
    event_id: String,
    notification_id: String,
    booking_number: &'a str,
    customer_id: &'a str,
    status: &'a str,
    text: &'a str,
    occurred_at: String,
}

impl Webhook {
    async fn deliver(&self, message: &Message<'_>) -> Result<(), Failure> {
        let body = serde_json::to_vec(&WebhookBody {
            event_id: message.event_id.to_string(),
            notification_id: message.notification_id.to_string(),
            booking_number: message.booking_number,
            customer_id: message.customer_id,
            status: message.status.as_str(),
            text: message.text,
            occurred_at: message.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .map_err(|e| Failure::Permanent(format!("encode: {e}")))?;
        // Signed per attempt: a retry an hour later is not stale.
        let timestamp = Utc::now().timestamp();
        let request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature::sign(self.secret.as_bytes(), timestamp, &body))
            .header(IDEMPOTENCY_HEADER, message.event_id.to_string())
            .body(body);
        send(request).await
    }
}

fn client(url: &str, timeout_ms: u64, key: &str, tls: &Tls) -> anyhow::Result<reqwest::Client> {
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "{key} must be an http:// or https:// URL, not {url:?}"
    );
    tls.client(Duration::from_millis(timeout_ms.max(1)))
}

/// Sends and classifies the answer.
/// Sends `request` with the current span's `traceparent` (when traced).
async fn send(mut request: reqwest::RequestBuilder) -> Result<(), Failure> {
    if let Some(traceparent) = cinema_mesh::telemetry::current_traceparent() {
        request = request.header(cinema_mesh::telemetry::TRACEPARENT, traceparent);
    }
    let response = request.send().await.map_err(|e| {
        Failure::Retry(match () {
            _ if let Some(tls) = https::tls_failure(&e) => format!("TLS: {tls}"),
            _ if e.is_timeout() => "timed out".to_owned(),
            _ if e.is_connect() => "could not connect".to_owned(),
            _ => format!("request failed: {e}"),
        })
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    let reason =
        format!("HTTP {}{}", status.as_u16(), if body.is_empty() { String::new() } else { format!(": {body}") });
    match domain::is_permanent(status.as_u16()) {
        true => Err(Failure::Permanent(reason)),
        false => Err(Failure::Retry(reason)),
    }
}

/// Builds the configured channels: at least one, no unknown names, no duplicates.
pub fn parse_all(config: &Config, tls: &Tls) -> anyhow::Result<Vec<Channel>> {
    let mut channels: Vec<Channel> = Vec::new();
    for name in &config.channels {
        let channel = Channel::parse(name, config, tls)?;
        if !channels.iter().any(|c| c.name() == channel.name()) {
            channels.push(channel);
        }
    }
    anyhow::ensure!(!channels.is_empty(), "configure at least one notification channel");
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(channels: &[&str]) -> Config {
        let mut config = Config { channels: channels.iter().map(|c| c.to_string()).collect(), ..Config::default() };
        config.kakao.url = "http://127.0.0.1:9/send".into();
        config.kakao.sender_key = "sender".into();
        config.webhook.url = "http://127.0.0.1:9/hook".into();
        config.webhook.secret = "0123456789abcdef".into();
        config
    }

    fn parse_all(config: &Config) -> anyhow::Result<Vec<Channel>> {
        super::parse_all(config, &Tls::load(None).unwrap())
    }

    fn names(channels: &[Channel]) -> Vec<&'static str> {
        channels.iter().map(Channel::name).collect()
    }

    #[test]
    fn parses_known_channels_once() {
        let channels = parse_all(&config(&["log", " log ", "kakao", "webhook"])).unwrap();
        assert_eq!(names(&channels), ["log", "kakao", "webhook"]);
    }

    #[test]
    fn refuses_unknown_missing_or_half_configured_channels() {
        assert!(parse_all(&config(&["pigeon"])).is_err());
        assert!(parse_all(&config(&[])).is_err());
        let mut no_key = config(&["kakao"]);
        no_key.kakao.sender_key.clear();
        assert!(parse_all(&no_key).is_err());
        let mut short_secret = config(&["webhook"]);
        short_secret.webhook.secret = "short".into();
        assert!(parse_all(&short_secret).is_err());
        let mut not_http = config(&["webhook"]);
        not_http.webhook.url = "ftp://example.com/hook".into();
        assert!(parse_all(&not_http).is_err());
    }

    #[test]
    fn takes_https_urls() {
        let mut https = config(&["kakao", "webhook"]);
        https.kakao.url = "https://alimtalk.example.com/v2/messages".into();
        https.webhook.url = "https://example.com/hook".into();
        assert_eq!(names(&parse_all(&https).unwrap()), ["kakao", "webhook"]);
    }

    #[test]
    fn every_status_has_its_template() {
        let tls = Tls::load(None).unwrap();
        let Channel::Kakao(kakao) = Channel::parse("kakao", &config(&[]), &tls).unwrap() else { panic!("kakao") };
        let codes: Vec<&str> = Notified::ALL.iter().map(|&s| kakao.template(s)).collect();
        assert_eq!(
            codes,
            [
                "CINEMA_BOOKING_PENDING",
                "CINEMA_BOOKING_AWAITING_PAYMENT",
                "CINEMA_BOOKING_CONFIRMED",
                "CINEMA_BOOKING_REJECTED",
                "CINEMA_BOOKING_EXPIRED",
                "CINEMA_BOOKING_CANCELLING",
                "CINEMA_BOOKING_CANCELLED"
            ]
        );
    }
}
