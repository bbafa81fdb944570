//! The gRPC server every cinema process runs.
//!
//! Besides the service's own routes it serves:
//! - `grpc.health.v1.Health`: service `""` is readiness (SERVING while the
//!   database and the broker answer and we are not draining), service
//!   `"liveness"` stays SERVING while the process's loops are alive;
//! - reflection v1 and v1alpha (grpcurl 1.8 speaks only v1alpha).
//!
//! Drain on SIGTERM / Ctrl-C: readiness goes NOT_SERVING first, then after
//! `drain_delay` the listener closes and in-flight calls finish.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Shutdown;

/// The health service name probes use for liveness.
pub const LIVENESS: &str = "liveness";

/// How often readiness is re-checked.
const READINESS_INTERVAL: Duration = Duration::from_secs(1);

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("bind {addr}"))
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> Shutdown {
    let shutdown = Shutdown::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("install the SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!(message = "Shutdown requested; draining.");
        token.cancel();
    });
    shutdown
}

/// Readiness for a service with a database and a broker: both answer.
pub fn ready_when_connected(
    pool: crate::store::Pool,
    bus: crate::bus::Bus,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + 'static {
    move || {
        let (pool, bus) = (pool.clone(), bus.clone());
        Box::pin(async move { bus.is_connected() && crate::store::ping(&pool).await })
    }
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown`.
/// `ready` is polled for readiness.
pub async fn serve<R, F>(
    listener: TcpListener,
    routes: Routes,
    ready: R,
    drain_delay: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()>
where
    R: Fn() -> F + Send + 'static,
    F: Future<Output = bool> + Send + 'static,
{
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::NotServing).await;
    reporter.set_service_status(LIVENESS, ServingStatus::Serving).await;
    tokio::spawn(watch_readiness(reporter.clone(), ready, shutdown.clone()));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(cinema_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("build reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(cinema_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("build reflection v1alpha")?;
    let routes = routes.add_service(health).add_service(reflection_v1).add_service(reflection_v1alpha);

    let addr = listener.local_addr()?;
    tracing::info!(message = "Serving gRPC.", %addr);
    let drained = async move {
        shutdown.cancelled().await;
        reporter.set_service_status("", ServingStatus::NotServing).await;
        tokio::time::sleep(drain_delay).await;
    };
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), drained)
        .await
        .context("serve gRPC")?;
    tracing::info!(message = "Drained; stopped serving.", %addr);
    Ok(())
}

async fn watch_readiness<R, F>(reporter: HealthReporter, ready: R, shutdown: Shutdown)
where
    R: Fn() -> F,
    F: Future<Output = bool>,
{
    let mut last = None;
    while !shutdown.is_cancelled() {
        let status = if ready().await { ServingStatus::Serving } else { ServingStatus::NotServing };
        if last != Some(status) {
            tracing::info!(message = "Readiness changed.", ready = status == ServingStatus::Serving);
            last = Some(status);
        }
        // Draining may have begun while we checked: never flip back to SERVING.
        if shutdown.is_cancelled() {
            return;
        }
        reporter.set_service_status("", status).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(READINESS_INTERVAL) => {}
        }
    }
}
