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
pub fn init(base: &Base, service: &str) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = match base.otlp_endpoint.as_str() {
        "" => None,
        endpoint => match tracer_provider(endpoint, service) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("OTLP export to {endpoint} is off: {error:#}");
                None
            }
        },
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
    if installed && !base.metrics_addr.is_empty() {
        serve_metrics(&base.metrics_addr, service);
    }
    Telemetry { provider: provider.filter(|_| installed) }
}

fn tracer_provider(endpoint: &str, service: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(format!("cinema-{service}")).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

fn serve_metrics(addr: &str, service: &str) {
    let installed = addr.parse::<std::net::SocketAddr>().map_err(anyhow::Error::from).and_then(|addr| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .add_global_label("service", service)
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])?
            .install()
            .map_err(anyhow::Error::from)
    });
    match installed {
        Ok(()) => tracing::info!(message = "Serving Prometheus metrics.", addr, path = "/metrics"),
        Err(error) => tracing::error!(message = "Metrics are off.", addr, error = format!("{error:#}")),
    }
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
