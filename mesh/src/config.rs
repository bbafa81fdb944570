//! Typed settings: defaults, then the TOML file named by `CINEMA_CONFIG`
//! (if any), then `CINEMA_*` environment variables (`CINEMA_LISTEN_ADDR`
//! sets `listen_addr`; `CINEMA_PAYMENT__LATENCY_MS` sets `payment.latency_ms`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What every service is configured with. Embed it with `#[serde(flatten)]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Base {
    /// Where the gRPC server listens; port 0 picks a free one.
    pub listen_addr: String,
    /// This service's own database; created when missing.
    pub database_url: String,
    /// One NATS URL, or several separated by commas (the seeds of a cluster).
    pub nats_url: String,
    /// Copies JetStream keeps of each stream and KV bucket: 1 on one server, 3 on a
    /// three-node cluster (a stream then survives the loss of any one node).
    pub stream_replicas: usize,
    /// `text` or `json`.
    pub log_format: String,
    /// How long to report NOT_SERVING before closing the listener on SIGTERM,
    /// so that load balancers stop sending new calls first.
    pub drain_delay_ms: u64,
    /// Where spans go (OTLP over gRPC, e.g. `http://otel-collector:4317`); empty: nowhere.
    pub otlp_endpoint: String,
    /// Where Prometheus scrapes `/metrics` (e.g. `0.0.0.0:9090`); empty: no endpoint.
    pub metrics_addr: String,
}

impl Base {
    /// Defaults for a service whose database is `cinema_<name>` and whose port is `port`.
    pub fn defaults(name: &str, port: u16) -> Self {
        Self {
            listen_addr: format!("127.0.0.1:{port}"),
            database_url: format!("postgres://postgres@127.0.0.1:5432/cinema_{name}"),
            nats_url: "nats://127.0.0.1:4222".into(),
            stream_replicas: 1,
            log_format: "text".into(),
            drain_delay_ms: 0,
            otlp_endpoint: String::new(),
            metrics_addr: String::new(),
        }
    }
}

/// Loads `T` from its defaults, the optional file and the environment.
pub fn load<T: Serialize + DeserializeOwned>(defaults: T) -> anyhow::Result<T> {
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Ok(path) = std::env::var("CINEMA_CONFIG") {
        figment = figment.merge(Toml::file_exact(path));
    }
    let config = figment.merge(Env::prefixed("CINEMA_").ignore(&["CONFIG"]).split("__")).extract()?;
    Ok(config)
}
