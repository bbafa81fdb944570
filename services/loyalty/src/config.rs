//! Typed settings. Every field is also a `CINEMA_*` variable; nested ones use
//! `__` (`CINEMA_PARTNER__URL`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// Points earned per 100 of the amount paid, rounded down (`CINEMA_ACCRUAL_PERCENT`).
    pub accrual_percent: u32,
    /// The durable JetStream consumer (`CINEMA_CONSUMER`). Replicas share it;
    /// a new name replays the whole stream (which changes nothing).
    pub consumer: String,
    /// The subject of `BookingStatusChanged` (`CINEMA_EVENTS_SUBJECT`); tests
    /// use a subject of their own under `cinema.booking.`.
    pub events_subject: String,
    /// A PEM file of CAs that an `https://` partner URL may also chain to,
    /// besides the system's roots (`CINEMA_TLS_CA_FILE`); empty: none.
    pub tls_ca_file: String,
    pub partner: Partner,
}

/// The partner (alliance) program accruals are relayed to (`CINEMA_PARTNER__*`).
/// With an empty `id`, no partner is configured and nobody can link one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Partner {
    /// What customers link to, e.g. `okcashbag`.
    pub id: String,
    /// Where accruals and revocations are POSTed (`http://` or `https://`).
    pub url: String,
    /// Sent as `Authorization: Bearer <api_key>` when not empty.
    pub api_key: String,
    pub timeout_ms: u64,
    /// The wait after the first failure; it doubles after each one...
    pub retry_base_ms: u64,
    /// ...up to this. The relay never gives up on a retryable failure.
    pub retry_max_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("loyalty", 50066),
            accrual_percent: 5,
            consumer: "loyalty".into(),
            events_subject: cinema_proto::topics::BOOKING_STATUS_CHANGED.subject.into(),
            tls_ca_file: String::new(),
            partner: Partner {
                id: String::new(),
                url: String::new(),
                api_key: String::new(),
                timeout_ms: 5_000,
                retry_base_ms: 1_000,
                retry_max_ms: 300_000,
            },
        }
    }
}
