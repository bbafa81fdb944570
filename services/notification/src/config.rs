//! Typed settings. Every field is also a `CINEMA_*` variable; nested ones use
//! `__` (`CINEMA_KAKAO__SENDER_KEY`, `CINEMA_KAKAO__TEMPLATES__CONFIRMED`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// Where every notification goes, one delivery each
    /// (`CINEMA_CHANNELS=[log,kakao,webhook]`).
    pub channels: Vec<String>,
    /// Failed attempts after which a delivery is dead-lettered (`CINEMA_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each one (`CINEMA_RETRY_BASE_MS`)...
    pub retry_base_ms: u64,
    /// ...up to this (`CINEMA_RETRY_MAX_MS`).
    pub retry_max_ms: u64,
    /// The durable JetStream consumer (`CINEMA_CONSUMER`). Replicas share it;
    /// a new name replays the whole stream (which changes nothing).
    pub consumer: String,
    /// The subject of `BookingStatusChanged` (`CINEMA_EVENTS_SUBJECT`); tests
    /// use a subject of their own under `cinema.booking.`.
    pub events_subject: String,
    /// A PEM file of CAs that `https://` kakao and webhook URLs may also chain to,
    /// besides the system's roots (`CINEMA_TLS_CA_FILE`); empty: none.
    pub tls_ca_file: String,
    pub kakao: Kakao,
    pub webhook: Webhook,
}

/// The KakaoTalk Alimtalk-style provider (`CINEMA_KAKAO__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Kakao {
    /// The send endpoint, e.g. `https://alimtalk.example.com/v2/messages`.
    pub url: String,
    /// The sender profile key the provider issued.
    pub sender_key: String,
    /// Sent as `X-Secret-Key` when not empty.
    pub secret_key: String,
    pub timeout_ms: u64,
    /// The approved template code of each status.
    pub templates: Templates,
}

/// One Alimtalk template code per customer-visible status.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Templates {
    pub pending: String,
    pub awaiting_payment: String,
    pub confirmed: String,
    pub rejected: String,
    pub expired: String,
    pub cancelling: String,
    pub cancelled: String,
}

/// A customer-facing webhook (`CINEMA_WEBHOOK__*`), signed with HMAC-SHA256.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// The shared secret (at least 16 bytes) both sides sign with.
    pub secret: String,
    pub timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("notification", 50065),
            channels: vec!["log".into()],
            max_attempts: 5,
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            consumer: "notification".into(),
            events_subject: cinema_proto::topics::BOOKING_STATUS_CHANGED.subject.into(),
            tls_ca_file: String::new(),
            kakao: Kakao {
                url: String::new(),
                sender_key: String::new(),
                secret_key: String::new(),
                timeout_ms: 5_000,
                templates: Templates {
                    pending: "CINEMA_BOOKING_PENDING".into(),
                    awaiting_payment: "CINEMA_BOOKING_AWAITING_PAYMENT".into(),
                    confirmed: "CINEMA_BOOKING_CONFIRMED".into(),
                    rejected: "CINEMA_BOOKING_REJECTED".into(),
                    expired: "CINEMA_BOOKING_EXPIRED".into(),
                    cancelling: "CINEMA_BOOKING_CANCELLING".into(),
                    cancelled: "CINEMA_BOOKING_CANCELLED".into(),
                },
            },
            webhook: Webhook { url: String::new(), secret: String::new(), timeout_ms: 5_000 },
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    use super::*;

    #[test]
    fn nested_settings_override_defaults_one_key_at_a_time() {
        let file = r#"
            channels = ["log", "kakao"]
            [kakao]
            url = "http://127.0.0.1:9/send"
            sender_key = "sk-1"
            [kakao.templates]
            confirmed = "TPL_OK"
        "#;
        let config: Config =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(file)).extract().unwrap();
        assert_eq!(config.channels, ["log", "kakao"]);
        assert_eq!(config.kakao.sender_key, "sk-1");
        assert_eq!(config.kakao.templates.confirmed, "TPL_OK");
        assert_eq!(config.kakao.templates.cancelled, "CINEMA_BOOKING_CANCELLED");
        assert_eq!(config.kakao.timeout_ms, 5_000);
    }
}
