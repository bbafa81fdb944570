//! The correlation id: Envoy's `x-request-id` (or one made at the first hop),
//! carried on every gRPC call, outbox row and event so that one booking's
//! story can be read across services.

use tonic::metadata::{MetadataMap, MetadataValue};

pub const HEADER: &str = "x-request-id";

/// The caller's correlation id, or a new one.
pub fn from_metadata(metadata: &MetadataMap) -> String {
    metadata
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A request carrying `correlation_id` and the current span's `traceparent`
/// to the next hop.
pub fn request<T>(message: T, correlation_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = MetadataValue::try_from(correlation_id) {
        request.metadata_mut().insert(HEADER, value);
    }
    crate::telemetry::inject(request.metadata_mut());
    request
}
