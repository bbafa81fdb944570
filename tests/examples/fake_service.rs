//! A stand-in for any cinema binary, to exercise the `Stack` harness on its own: it serves
//! grpc.health.v1 (SERVING) and reflection (v1 and v1alpha) over the cinema descriptor set
//! on `CINEMA_LISTEN_ADDR`, like the real services.
//!
//! ```text
//! cargo build -p cinema-tests --example fake-service
//! mkdir -p /tmp/fake && for s in screening seats payment reservation notification loyalty orchestrator; do
//!   ln -sf $CARGO_TARGET_DIR/debug/examples/fake-service /tmp/fake/cinema-$s; done
//! CINEMA_BIN_DIR=/tmp/fake cargo test -p cinema-tests --test e2e
//! ```

use anyhow::{Context as _, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let addr = std::env::var("CINEMA_LISTEN_ADDR")
        .context("CINEMA_LISTEN_ADDR")?
        .parse()
        .context("CINEMA_LISTEN_ADDR is not an address")?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(cinema_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(cinema_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("reflection v1alpha")?;
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("SIGTERM handler")?;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_shutdown(addr, async move {
            term.recv().await;
        })
        .await
        .context("serving")
}
