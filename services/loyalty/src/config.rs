use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// Points earned per 100 of the amount paid, rounded down (`CINEMA_ACCRUAL_PERCENT`).
    pub accrual_percent: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { base: cinema_mesh::config::Base::defaults("loyalty", 50066), accrual_percent: 5 }
    }
}
