//! Logs and spans: `RUST_LOG` filters (default `info`), `log_format` picks
//! human text or one JSON object per line.

use tracing_subscriber::EnvFilter;

pub fn init(log_format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // A second init (tests start several apps in one process) keeps the first.
    let _ = match log_format {
        "json" => builder.json().flatten_event(true).try_init(),
        _ => builder.try_init(),
    };
}
