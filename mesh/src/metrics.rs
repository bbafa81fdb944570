//! Prometheus metrics: the names every service shares, and the RPC layer.
//! Scraped from `/metrics` on `CINEMA_METRICS_ADDR` (see [`crate::telemetry`]);
//! every series has a `service` label.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;

/// Calls served, by `method` (`/package.Service/Method`) and gRPC `code` (`OK`, `NOT_FOUND`, ...).
pub const RPC_REQUESTS: &str = "cinema_rpc_requests_total";
/// Time to the response headers, by `method`.
pub const RPC_DURATION: &str = "cinema_rpc_duration_seconds";
/// Outbox rows not yet published (sampled by the relay).
pub const OUTBOX_BACKLOG: &str = "cinema_outbox_backlog";
/// Events the relay published.
pub const OUTBOX_PUBLISHED: &str = "cinema_outbox_published_total";
/// From the commit of an event to its publication.
pub const OUTBOX_PUBLISH_LAG: &str = "cinema_outbox_publish_lag_seconds";
/// Events a consumer finished, by `consumer` and `outcome` (`ok`, `retry`, `dead_letter`).
pub const EVENTS_HANDLED: &str = "cinema_events_handled_total";
/// Deliveries after the first, by `consumer`.
pub const EVENTS_REDELIVERED: &str = "cinema_events_redelivered_total";
/// From an event's occurrence to its handling, by `consumer`.
pub const CONSUMER_LAG: &str = "cinema_consumer_lag_seconds";
/// Messages set aside in DEADLETTER, by `consumer`.
pub const DEAD_LETTERS: &str = "cinema_dead_letters_total";
/// A circuit breaker's state, by `breaker`: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "cinema_breaker_state";
/// Saga step attempts, by `step` and `outcome` (`done`, `refused`, `transient`, ...).
pub const SAGA_STEPS: &str = "cinema_saga_steps_total";
/// How long one step attempt took, by `step`.
pub const SAGA_STEP_DURATION: &str = "cinema_saga_step_duration_seconds";
/// Sagas by `state` (sampled by the orchestrator; unfinished states only).
pub const SAGAS: &str = "cinema_sagas";
/// Holds that have not expired, been sold or been released (sampled by the seats sweeper).
pub const ACTIVE_HOLDS: &str = "cinema_active_holds";

/// The gRPC code name of a `grpc-status` value (none: OK).
pub fn code_name(status: Option<&str>) -> &'static str {
    let code = match status {
        None => tonic::Code::Ok,
        Some(raw) => raw.parse::<i32>().map_or(tonic::Code::Unknown, tonic::Code::from),
    };
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Counts every call by method and code and times it to its response headers.
/// The code is read from the headers: a handler's error is a trailers-only
/// response; a stream that fails after its first message counts as OK.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Rpc { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Rpc<S> {
    inner: S,
}

impl<S, Req, Res> tower::Service<http::Request<Req>> for Rpc<S>
where
    S: tower::Service<http::Request<Req>, Response = http::Response<Res>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Res>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Req>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let measured = !crate::server::exempt(&method);
        let start = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let answer = call.await;
            if measured {
                let code = match &answer {
                    Ok(response) => code_name(response.headers().get("grpc-status").and_then(|v| v.to_str().ok())),
                    Err(_) => "TRANSPORT_ERROR",
                };
                metrics::counter!(RPC_REQUESTS, "method" => method.clone(), "code" => code).increment(1);
                metrics::histogram!(RPC_DURATION, "method" => method).record(start.elapsed().as_secs_f64());
            }
            answer
        })
    }
}

/// The span of one call: named after its method, parented by the caller's
/// `traceparent`, carrying the correlation id into every log line inside it.
/// Health checks and reflection get none.
pub fn request_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    if crate::server::exempt(path) {
        return tracing::Span::none();
    }
    let correlation_id =
        request.headers().get(crate::correlation::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let span = tracing::info_span!(
        "rpc",
        otel.name = path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        correlation_id,
    );
    crate::telemetry::set_parent_from_headers(&span, request.headers());
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 15] = [
        RPC_REQUESTS,
        RPC_DURATION,
        OUTBOX_BACKLOG,
        OUTBOX_PUBLISHED,
        OUTBOX_PUBLISH_LAG,
        EVENTS_HANDLED,
        EVENTS_REDELIVERED,
        CONSUMER_LAG,
        DEAD_LETTERS,
        BREAKER_STATE,
        SAGA_STEPS,
        SAGA_STEP_DURATION,
        SAGAS,
        ACTIVE_HOLDS,
        RPC_REQUESTS,
    ];

    /// Every series the Grafana dashboard queries is one the services export.
    #[test]
    fn the_dashboard_queries_only_exported_series() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../observability/grafana-dashboard.json")).expect("valid JSON");
        let exprs: Vec<&str> = dashboard["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .flat_map(|p| p["targets"].as_array().expect("targets"))
            .map(|t| t["expr"].as_str().expect("an expr"))
            .collect();
        assert!(exprs.len() >= 12, "{exprs:?}");
        let mut used = std::collections::BTreeSet::new();
        for expr in &exprs {
            for word in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("cinema_"))
            {
                let base =
                    ["_bucket", "_count", "_sum"].iter().fold(word, |w, suffix| w.strip_suffix(suffix).unwrap_or(w));
                assert!(NAMES.contains(&base), "{expr}: {word} is not exported");
                used.insert(base);
            }
        }
        let unused: Vec<_> = NAMES.iter().filter(|n| !used.contains(*n)).collect();
        assert!(unused.is_empty(), "series without a panel: {unused:?}");
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(None), "OK");
        assert_eq!(code_name(Some("5")), "NOT_FOUND");
        assert_eq!(code_name(Some("8")), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Some("garbage")), "UNKNOWN");
    }
}
