//! The gRPC server every cinema process runs.
//!
//! Besides the service's own routes it serves:
//! - `grpc.health.v1.Health`: service `""` is readiness (SERVING while the
//!   database and the broker answer and we are not draining), service
//!   `"liveness"` stays SERVING while the process's loops are alive (every
//!   [`crate::watchdog`] heartbeat beats in time);
//! - reflection v1 and v1alpha (grpcurl 1.8 speaks only v1alpha).
//!
//! Drain on SIGTERM / Ctrl-C: readiness goes NOT_SERVING first, then after
//! `drain_delay` the listener closes and in-flight calls finish.
//!
//! Overload: at most [`Limits::max_in_flight`] calls are served at once
//! (`CINEMA_MAX_IN_FLIGHT`); a call beyond that is refused at once with
//! RESOURCE_EXHAUSTED (reason `OVERLOADED`) instead of queueing, so a client
//! can back off or try another replica. Health and reflection are never
//! refused: a busy server is still alive and ready.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::Code;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::limit::ConcurrencyLimit;
use tower::load_shed::{LoadShed, error::Overloaded};
use tower::{BoxError, ServiceExt as _};

use crate::Shutdown;
use crate::watchdog::Watchdog;

/// The health service name probes use for liveness.
pub const LIVENESS: &str = "liveness";

/// How often readiness is re-checked.
const READINESS_INTERVAL: Duration = Duration::from_secs(1);
/// How often readiness is checked while not ready.
const NOT_READY_INTERVAL: Duration = Duration::from_millis(25);

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

/// How much work one server takes on at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Calls served at once (health and reflection not counted); the excess is
    /// refused at once with RESOURCE_EXHAUSTED. 0 = no limit. A server stream
    /// counts until its response headers are sent.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_in_flight: 512 }
    }
}

impl Limits {
    /// The defaults, then the config file, then `CINEMA_MAX_IN_FLIGHT`.
    pub fn load() -> anyhow::Result<Self> {
        crate::config::load(Self::default()).context("load the server limits (CINEMA_MAX_IN_FLIGHT)")
    }
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown`.
/// `ready` is polled for readiness. The [`Limits`] come from the config.
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
    let watchdog = crate::watchdog::global().clone();
    serve_with(listener, routes, ready, drain_delay, shutdown, Limits::load()?, watchdog).await
}

/// [`serve`] with explicit [`Limits`] and the [`Watchdog`] liveness reports on.
pub async fn serve_with<R, F>(
    listener: TcpListener,
    routes: Routes,
    ready: R,
    drain_delay: Duration,
    shutdown: Shutdown,
    limits: Limits,
    watchdog: Watchdog,
) -> anyhow::Result<()>
where
    R: Fn() -> F + Send + 'static,
    F: Future<Output = bool> + Send + 'static,
{
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::NotServing).await;
    reporter.set_service_status(LIVENESS, ServingStatus::Serving).await;
    tokio::spawn(crate::watchdog::watch(watchdog, reporter.clone(), LIVENESS, shutdown.clone()));
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
    tracing::info!(message = "Serving gRPC.", %addr, max_in_flight = limits.max_in_flight);
    let drained = async move {
        shutdown.cancelled().await;
        reporter.set_service_status("", ServingStatus::NotServing).await;
        tokio::time::sleep(drain_delay).await;
    };
    // The builder's own `tcp_nodelay` covers only the listeners it binds: set it on the
    // accepted connections here. With Nagle on, a reply written in two segments waited
    // for the caller's delayed ACK: 40 ms on every other call with a large answer.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .trace_fn(crate::metrics::request_span)
        // Count and time every call, including the ones shed below.
        .layer(crate::metrics::RpcLayer)
        // Refuse what is beyond the limit at once, as a gRPC status.
        .layer(ShedLayer::new(limits.max_in_flight))
        // A message that does not decode is the caller's fault (INVALID_ARGUMENT), and no
        // status quotes a huge input back.
        .layer(tower::util::MapResponseLayer::new(client_facing_status::<tonic::body::Body>))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, drained)
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
        // Not ready (yet): look again soon, so a starting service serves as soon as it can.
        let every = if status == ServingStatus::Serving { READINESS_INTERVAL } else { NOT_READY_INTERVAL };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Paths that are never shed (probes must see a busy server as alive and
/// ready), nor counted or traced.
pub(crate) fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// What a client sees of a failed call. tonic answers a request message it cannot decode (garbage bytes, a wrong wire type,
/// invalid UTF-8 in a string, which REST clients reach with a percent-encoded path
/// parameter) INTERNAL, which Envoy turns into HTTP 500. It is the caller's mistake:
/// answer INVALID_ARGUMENT (HTTP 400), keeping tonic's message, which names the field.
fn client_facing_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let internal = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"13");
    // tonic percent-encodes the message (spaces too).
    let undecodable = headers.get("grpc-message").is_some_and(|m| {
        let m = m.as_bytes();
        m.starts_with(b"failed%20to%20decode%20Protobuf%20message")
            || m.starts_with(b"failed to decode Protobuf message")
    });
    if internal && undecodable {
        response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("3"));
    }
    // A status that quotes a huge input back would exceed the peer's header limits (Envoy
    // resets the stream: a 502). Cap what the trailers carry.
    let headers = response.headers_mut();
    if headers.get("grpc-message").is_some_and(|m| m.len() > MAX_STATUS_MESSAGE) {
        let cut = headers["grpc-message"].as_bytes()[..MAX_STATUS_MESSAGE].to_vec();
        // Cut at a whole percent-escape, so the value stays well formed.
        let end = cut.iter().rposition(|b| *b == b'%').filter(|i| cut.len() - i < 3).unwrap_or(cut.len());
        if let Ok(value) = http::HeaderValue::from_bytes(&[&cut[..end], b"..."].concat()) {
            headers.insert("grpc-message", value);
        }
    }
    if headers.get("grpc-status-details-bin").is_some_and(|d| d.len() > MAX_STATUS_DETAILS) {
        headers.remove("grpc-status-details-bin");
    }
    response
}

/// The most of a status message (percent-encoded bytes) a response carries.
const MAX_STATUS_MESSAGE: usize = 2048;
/// Details (base64) beyond this are dropped; the code and message remain.
const MAX_STATUS_DETAILS: usize = 16 * 1024;

/// The answer to a call beyond the limit (a trailers-only gRPC response).
fn overloaded(max_in_flight: usize) -> tonic::Status {
    crate::status::with_reason(
        Code::ResourceExhausted,
        "OVERLOADED",
        format!("server overloaded: {max_in_flight} calls already in flight; retry with backoff"),
    )
}

/// tower's concurrency limit and load shedding, one semaphore for the whole
/// server, with the shed error turned into RESOURCE_EXHAUSTED and the exempt
/// paths passed around the limit.
#[derive(Clone, Debug)]
struct ShedLayer {
    /// `None`: no limit.
    semaphore: Option<Arc<Semaphore>>,
    max_in_flight: usize,
}

impl ShedLayer {
    fn new(max_in_flight: usize) -> Self {
        let semaphore = (max_in_flight > 0).then(|| Arc::new(Semaphore::new(max_in_flight)));
        Self { semaphore, max_in_flight }
    }
}

impl<S: Clone> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let limited = self.semaphore.clone().map(|semaphore| {
            // Outermost first: refuse when not ready (instead of waiting), then
            // wait for a permit.
            LoadShed::new(ConcurrencyLimit::with_semaphore(inner.clone(), semaphore))
        });
        Shed { inner, limited, max_in_flight: self.max_in_flight }
    }
}

#[derive(Clone, Debug)]
struct Shed<S> {
    inner: S,
    limited: Option<LoadShed<ConcurrencyLimit<S>>>,
    max_in_flight: usize,
}

impl<S, Req, Res> tower::Service<http::Request<Req>> for Shed<S>
where
    S: tower::Service<http::Request<Req>, Response = http::Response<Res>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    Req: Send + 'static,
    Res: Default + Send + 'static,
{
    type Response = http::Response<Res>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Req>) -> Self::Future {
        let limited = match &self.limited {
            Some(limited) if !exempt(request.uri().path()) => limited.clone(),
            _ => {
                let call = self.inner.call(request);
                return Box::pin(async move { call.await.map_err(Into::into) });
            }
        };
        let max_in_flight = self.max_in_flight;
        Box::pin(async move {
            // LoadShed is always ready; a clone has no permit yet, so readiness
            // is where the permit is taken (or found missing).
            match limited.oneshot(request).await {
                Err(error) if error.is::<Overloaded>() => {
                    tracing::debug!(message = "Call shed.", max_in_flight);
                    Ok(overloaded(max_in_flight).into_http())
                }
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use cinema_proto::seats::v1::seats_service_client::SeatsServiceClient;
    use cinema_proto::seats::v1::seats_service_server::{SeatsService, SeatsServiceServer};
    use cinema_proto::seats::v1::{GetSeatMapRequest, SeatMap, WatchSeatMapRequest};
    use tonic::transport::Channel;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus as Probe;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;

    /// A seats service whose GetSeatMap holds every call until the gate opens.
    #[derive(Clone)]
    struct Gated {
        in_flight: Arc<AtomicUsize>,
        gate: Arc<tokio::sync::Notify>,
        open: Arc<std::sync::atomic::AtomicBool>,
    }

    #[tonic::async_trait]
    impl SeatsService for Gated {
        type WatchSeatMapStream = futures::stream::Empty<Result<SeatMap, tonic::Status>>;

        async fn watch_seat_map(
            &self,
            _: tonic::Request<WatchSeatMapRequest>,
        ) -> Result<tonic::Response<Self::WatchSeatMapStream>, tonic::Status> {
            Err(tonic::Status::unimplemented("not gated"))
        }

        async fn get_seat_map(
            &self,
            request: tonic::Request<GetSeatMapRequest>,
        ) -> Result<tonic::Response<SeatMap>, tonic::Status> {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            while !self.open.load(Ordering::SeqCst) {
                let notified = self.gate.notified();
                if self.open.load(Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
            let screening_id = request.into_inner().screening_id;
            Ok(tonic::Response::new(SeatMap { screening_id, ..SeatMap::default() }))
        }
    }

    async fn poll<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn health(channel: &Channel, service: &str) -> Option<i32> {
        let request = HealthCheckRequest { service: service.to_owned() };
        HealthClient::new(channel.clone()).check(request).await.ok().map(|r| r.into_inner().status)
    }

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_beyond_the_limit_are_refused_at_once_and_health_keeps_serving() {
        const LIMIT: usize = 4;
        const EXCESS: usize = 40;
        let gated = Gated {
            in_flight: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(tokio::sync::Notify::new()),
            open: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let listener = bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = Shutdown::new();
        let routes = Routes::new(SeatsServiceServer::new(gated.clone()));
        let server = tokio::spawn(serve_with(
            listener,
            routes,
            || async { true },
            Duration::ZERO,
            shutdown.clone(),
            Limits { max_in_flight: LIMIT },
            Watchdog::new(),
        ));
        let channel = tonic::transport::Endpoint::from_shared(url).unwrap().connect_lazy();
        let ready = || health(&channel, "");
        poll("readiness", async || (ready().await == Some(Probe::Serving as i32)).then_some(())).await;

        // Fill every slot with a call that hangs at the gate.
        let held: Vec<_> = (0..LIMIT)
            .map(|i| {
                let mut client = SeatsServiceClient::new(channel.clone());
                tokio::spawn(async move {
                    client.get_seat_map(GetSeatMapRequest { screening_id: format!("held-{i}") }).await
                })
            })
            .collect();
        poll("the held calls", async || (gated.in_flight.load(Ordering::SeqCst) == LIMIT).then_some(())).await;

        // Everything beyond the limit is refused, quickly, with a clear status.
        let excess: Vec<_> = (0..EXCESS)
            .map(|i| {
                let mut client = SeatsServiceClient::new(channel.clone());
                tokio::spawn(async move {
                    let started = Instant::now();
                    let answer = client.get_seat_map(GetSeatMapRequest { screening_id: format!("x-{i}") }).await;
                    (answer, started.elapsed())
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for call in excess {
            let (answer, latency) = call.await.unwrap();
            let status = answer.expect_err("a call beyond the limit was served");
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            assert!(status.message().contains("overloaded"), "{status:?}");
            assert_eq!(crate::status::reason(&status).as_deref(), Some("OVERLOADED"));
            latencies.push(latency);
        }
        // And one at a time, for the latency of one refusal.
        let mut one_by_one = Vec::new();
        let mut client = SeatsServiceClient::new(channel.clone());
        for _ in 0..200 {
            let started = Instant::now();
            let status = client.get_seat_map(GetSeatMapRequest::default()).await.expect_err("served");
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            one_by_one.push(started.elapsed());
        }
        latencies.sort();
        one_by_one.sort();
        assert_eq!(gated.in_flight.load(Ordering::SeqCst), LIMIT, "a shed call reached the handler");
        assert!(percentile(&latencies, 0.99) < Duration::from_millis(500), "shedding is slow: {latencies:?}");

        // Probes are never shed.
        assert_eq!(health(&channel, "").await, Some(Probe::Serving as i32));
        assert_eq!(health(&channel, LIVENESS).await, Some(Probe::Serving as i32));

        // The held calls are served, and the freed slots take new calls.
        gated.open.store(true, Ordering::SeqCst);
        gated.gate.notify_waiters();
        for (i, call) in held.into_iter().enumerate() {
            let map = call.await.unwrap().expect("a call within the limit was refused").into_inner();
            assert_eq!(map.screening_id, format!("held-{i}"));
        }
        let mut client = SeatsServiceClient::new(channel.clone());
        client.get_seat_map(GetSeatMapRequest { screening_id: "after".into() }).await.expect("served after the burst");

        eprintln!(
            "shed {EXCESS} concurrent calls beyond max_in_flight={LIMIT}: p50 {:?}, p99 {:?}, max {:?}; \
             200 sequential: p50 {:?}, p99 {:?}",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().unwrap(),
            percentile(&one_by_one, 0.5),
            percentile(&one_by_one, 0.99),
        );
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn liveness_fails_while_a_loop_is_stuck_and_readiness_does_not() {
        let watchdog = Watchdog::new();
        let listener = bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = Shutdown::new();
        let routes = Routes::new(SeatsServiceServer::new(Gated {
            in_flight: Arc::default(),
            gate: Arc::default(),
            open: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }));
        let server = tokio::spawn(serve_with(
            listener,
            routes,
            || async { true },
            Duration::ZERO,
            shutdown.clone(),
            Limits::default(),
            watchdog.clone(),
        ));
        let channel = tonic::transport::Endpoint::from_shared(url).unwrap().connect_lazy();
        poll("readiness", async || (health(&channel, "").await == Some(Probe::Serving as i32)).then_some(())).await;

        // A loop that never beats: liveness goes NOT_SERVING; readiness stays.
        let heartbeat = watchdog.register("saga runner", Duration::from_millis(100));
        let started = Instant::now();
        let not_live = async || (health(&channel, LIVENESS).await == Some(Probe::NotServing as i32)).then_some(());
        poll("liveness NOT_SERVING", not_live).await;
        let detected = started.elapsed();
        assert_eq!(health(&channel, "").await, Some(Probe::Serving as i32), "readiness follows dependencies only");

        // It beats again: liveness comes back.
        let beating = tokio::spawn(async move {
            loop {
                heartbeat.beat();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        poll("liveness SERVING", async || {
            (health(&channel, LIVENESS).await == Some(Probe::Serving as i32)).then_some(())
        })
        .await;
        beating.abort();
        eprintln!("a loop silent past 100 ms was reported NOT_SERVING after {detected:?}");
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn zero_means_no_limit_and_the_default_is_bounded() {
        assert!(ShedLayer::new(0).semaphore.is_none());
        assert!(Limits::default().max_in_flight > 0);
    }
}
