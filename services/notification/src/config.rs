use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// Where every notification goes, one delivery each (`CINEMA_CHANNELS=[log]`).
    pub channels: Vec<String>,
    /// Failed attempts after which a delivery is dead-lettered.
    pub max_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base: cinema_mesh::config::Base::defaults("notification", 50065),
            channels: vec!["log".into()],
            max_attempts: 5,
        }
    }
}
