use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// How long a hold keeps its seats (`CINEMA_HOLD_TTL_SECS`).
    pub hold_ttl_secs: u64,
    /// How often expired holds are released (`CINEMA_HOLD_SWEEP_INTERVAL_MS`).
    pub hold_sweep_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("seats", 50062),
            hold_ttl_secs: 600,
            hold_sweep_interval_ms: 5_000,
        }
    }
}
