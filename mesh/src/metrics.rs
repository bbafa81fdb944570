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

/// The gRPC code name of a `grpc-status` value.
pub fn code_name(status: Option<&str>) -> &'static str {
    let code = status.and_then(|s| s.parse::<i32>().ok()).map_or(tonic::Code::Ok, tonic::Code::from);
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
