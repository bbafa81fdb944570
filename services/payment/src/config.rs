use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// How long the simulated acquirer takes to answer (`CINEMA_ACQUIRER_LATENCY_MS`).
    pub acquirer_latency_ms: u64,
    /// Who we are to the acquirer (`CINEMA_MERCHANT_ID`).
    pub merchant_id: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("payment", 50063),
            acquirer_latency_ms: 0,
            merchant_id: "cinema-dev".into(),
        }
    }
}
