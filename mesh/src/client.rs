//! Channels to other cinema services: lazy (a peer that is down does not stop
//! us from starting), with a connect deadline and a per-call deadline.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// A lazily connected channel to `url` (e.g. `http://127.0.0.1:50062`).
pub fn channel(url: &str, call_timeout: Duration) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(1))
        .timeout(call_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}
