//! Logs, traces and metrics.
//!
//! - Logs: `RUST_LOG` filters (default `info`); `log_format` picks human text or
//!   one JSON object per line. Span fields (the correlation id, the booking
//!   number) appear on every line logged inside the span.
//! - Traces: spans go out over OTLP/gRPC when `otlp_endpoint` is set (batched;
//!   `OTEL_BSP_SCHEDULE_DELAY` tunes the batch delay). The W3C `traceparent`
//!   travels in gRPC metadata, in outbox rows and in NATS headers, so one
//!   booking's spans form one tree across services and asynchronous hops.
//! - Metrics: a Prometheus endpoint on `metrics_addr` (`/metrics`) when set.

use std::collections::HashMap;

use anyhow::Context as _;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::Base;

/// The W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";

/// Keeps the exporters alive; dropping it flushes the spans not yet sent.
#[must_use = "dropping it stops the trace exporter"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Sets up logging, tracing and metrics for `service` (e.g. `reservation`).
/// A second call in one process (tests start several apps) keeps the first.
/// Fails on a malformed OTLP endpoint or metrics address.
pub fn init(base: &Base, service: &str) -> anyhow::Result<Telemetry> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = match base.otlp_endpoint.as_str() {
        "" => None,
        endpoint => Some(tracer_provider(endpoint, service).with_context(|| format!("otlp_endpoint {endpoint:?}"))?),
    };
    let metrics_addr = match base.metrics_addr.as_str() {
        "" => None,
        addr => Some(addr.parse::<std::net::SocketAddr>().with_context(|| format!("metrics_addr {addr:?}"))?),
    };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer().with_tracer(p.tracer(format!("cinema-{service}"))).with_filter(filter())
    });
    let logs = tracing_subscriber::fmt::layer().with_target(false);
    let logs = match base.log_format.as_str() {
        "json" => logs.json().flatten_event(true).with_current_span(true).with_filter(filter()).boxed(),
        _ => logs.with_filter(filter()).boxed(),
    };
    let installed = tracing_subscriber::registry().with(logs).with(traces).try_init().is_ok();
    if let Some(addr) = metrics_addr.filter(|_| installed) {
        serve_metrics(addr, service)?;
    }
    Ok(Telemetry { provider: provider.filter(|_| installed) })
}

fn tracer_provider(endpoint: &str, service: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    anyhow::ensure!(
        endpoint.parse::<http::Uri>().is_ok_and(|u| u.scheme().is_some()),
        "not a URL like http://host:4317"
    );
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(format!("cinema-{service}")).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

fn serve_metrics(addr: std::net::SocketAddr, service: &str) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .add_global_label("service", service)
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])?
        .install()
        .with_context(|| format!("serve metrics on {addr}"))?;
    tracing::info!(message = "Serving Prometheus metrics.", %addr, path = "/metrics");
    Ok(())
}

/// The `traceparent` of the current span, if it is being traced.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `traceparent` (if any) the parent of `span`.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent.filter(|t| !t.is_empty()) {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
        let _ = span.set_parent(TraceContextPropagator::new().extract(&carrier));
    }
}

/// Adds the current span's `traceparent` to outgoing gRPC metadata.
pub fn inject(metadata: &mut tonic::metadata::MetadataMap) {
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut MetadataInjector(metadata));
}

/// Makes the trace context in `headers` (from the caller) the parent of `span`.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(context);
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_endpoint_or_address_refuses_to_start() {
        let base = |otlp: &str, metrics: &str| Base {
            otlp_endpoint: otlp.into(),
            metrics_addr: metrics.into(),
            ..Base::defaults("test", 0)
        };
        let otlp = init(&base("collector:4317", ""), "test").err().expect("no scheme");
        assert!(format!("{otlp:#}").contains("otlp_endpoint"), "{otlp:#}");
        let metrics = init(&base("", "port 9090"), "test").err().expect("not an address");
        assert!(format!("{metrics:#}").contains("metrics_addr"), "{metrics:#}");
    }

    #[test]
    fn without_a_span_there_is_no_traceparent() {
        assert_eq!(current_traceparent(), None);
    }
}
