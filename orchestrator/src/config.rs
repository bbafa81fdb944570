use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    pub seats_url: String,
    pub payment_url: String,
    pub reservation_url: String,
    /// How long BookTickets drives the saga before answering PENDING.
    pub inline_deadline_ms: u64,
    /// The deadline of one participant call.
    pub step_timeout_ms: u64,
    /// How long a runner owns a saga before another replica may take it over.
    pub lease_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// How long a booking may retry its forward steps before it is compensated.
    pub saga_timeout_secs: u64,
    /// Payment's circuit breaker: failures in a row that open it, how long it
    /// stays open, and how many probes it lets through when half-open.
    pub payment_breaker_failures: u32,
    pub payment_breaker_open_ms: u64,
    pub payment_breaker_probes: u32,
    /// Flash-sale admission control, per screening: new bookings a second
    /// (0 = off) and how many may start at once.
    pub admission_rate_per_sec: f64,
    pub admission_burst: u32,
    /// Test hook (`before:<STATE>` / `after:<STATE>`): hang there so a crash
    /// test can kill the process at that point. Empty in production.
    pub failpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("orchestrator", 50060),
            seats_url: "http://127.0.0.1:50062".into(),
            payment_url: "http://127.0.0.1:50063".into(),
            reservation_url: "http://127.0.0.1:50064".into(),
            inline_deadline_ms: 2_000,
            step_timeout_ms: 2_000,
            lease_secs: 30,
            backoff_base_ms: 50,
            backoff_cap_ms: 10_000,
            saga_timeout_secs: 900,
            payment_breaker_failures: 5,
            payment_breaker_open_ms: 5_000,
            payment_breaker_probes: 1,
            admission_rate_per_sec: 0.0,
            admission_burst: 20,
            failpoint: String::new(),
        }
    }
}
