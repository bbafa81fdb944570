use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub base: cinema_mesh::config::Base,
    /// The KV bucket of the booking view (`CINEMA_VIEW_BUCKET`); the
    /// projector's durable consumers are named after it.
    pub view_bucket: String,
}

impl Default for Config {
    fn default() -> Self {
        Self { base: cinema_mesh::config::Base::defaults("reservation", 50064), view_bucket: "booking-view".into() }
    }
}
