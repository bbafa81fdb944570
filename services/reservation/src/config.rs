use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
}

impl Default for Config {
    fn default() -> Self {
        Self { base: cinema_mesh::config::Base::defaults("reservation", 50064) }
    }
}
