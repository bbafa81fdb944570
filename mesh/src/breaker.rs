//! A circuit breaker for calls to another service, as a tower layer.
//!
//! Closed: calls pass; `failure_threshold` failures in a row open it.
//! Open: calls fail at once with UNAVAILABLE ("circuit open") for `open_for`.
//! Half-open: up to `half_open_probes` calls pass as probes; a success closes
//! the breaker, a failure opens it again. Only failures that say the peer is
//! unwell count (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNKNOWN,
//! INTERNAL); a business "no" is a healthy answer.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;
use tonic::{Code, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub failure_threshold: u32,
    pub open_for: Duration,
    pub half_open_probes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { failure_threshold: 5, open_for: Duration::from_secs(5), half_open_probes: 1 }
    }
}

/// What the breaker lets through now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probes: u32 },
}

/// The shared breaker; clones share state.
#[derive(Clone, Debug)]
pub struct Breaker {
    name: &'static str,
    settings: Settings,
    inner: Arc<Mutex<Inner>>,
}

/// Publishes `state` as the breaker's gauge: 0 closed, 1 half-open, 2 open.
fn gauge(name: &'static str, state: State) {
    let value = match state {
        State::Closed => 0.0,
        State::HalfOpen => 1.0,
        State::Open => 2.0,
    };
    metrics::gauge!(crate::metrics::BREAKER_STATE, "breaker" => name).set(value);
}

/// Whether a call's failure counts against the peer. A call that outlives the
/// channel's timeout ends CANCELLED ("Timeout expired") in tonic: a peer slower
/// than our deadline is as unhealthy as one that is down.
pub fn is_failure(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Unknown
            | Code::Internal
    )
}

impl Breaker {
    pub fn new(name: &'static str, settings: Settings) -> Self {
        gauge(name, State::Closed);
        Self { name, settings, inner: Arc::new(Mutex::new(Inner::Closed { failures: 0 })) }
    }

    pub fn state(&self) -> State {
        match *self.lock() {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { until } if Instant::now() >= until => State::HalfOpen,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Asks to make a call: `Err` with UNAVAILABLE while open (or while every
    /// half-open probe is out).
    pub fn acquire(&self) -> Result<(), Status> {
        let mut inner = self.lock();
        if let Inner::Open { until } = *inner
            && Instant::now() >= until
        {
            *inner = Inner::HalfOpen { probes: 0 };
            gauge(self.name, State::HalfOpen);
            tracing::info!(message = "Circuit half-open; probing.", breaker = self.name);
        }
        match &mut *inner {
            Inner::Closed { .. } => Ok(()),
            Inner::HalfOpen { probes } if *probes < self.settings.half_open_probes => {
                *probes += 1;
                Ok(())
            }
            Inner::Open { until } => {
                let left = until.saturating_duration_since(Instant::now());
                Err(Status::unavailable(format!("{}: circuit open for another {} ms", self.name, left.as_millis())))
            }
            Inner::HalfOpen { .. } => Err(Status::unavailable(format!("{}: circuit half-open, probing", self.name))),
        }
    }

    /// Makes `call` through the breaker: refused at once (UNAVAILABLE, the
    /// future never polled) while open, its outcome recorded otherwise.
    pub async fn call<T>(&self, call: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
        self.acquire()?;
        self.admitted(call).await
    }

    /// Runs a call [`Breaker::acquire`] let through and records its outcome.
    async fn admitted<T>(&self, call: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
        let result = call.await;
        self.record(result.as_ref().map(drop).map_err(Status::code));
        result
    }

    /// Records how a call that was let through ended.
    pub fn record(&self, outcome: Result<(), Code>) {
        let failed = matches!(outcome, Err(code) if is_failure(code));
        let mut inner = self.lock();
        let next = match (&*inner, failed) {
            (Inner::Closed { .. }, false) => Inner::Closed { failures: 0 },
            (Inner::Closed { failures }, true) if failures + 1 < self.settings.failure_threshold => {
                Inner::Closed { failures: failures + 1 }
            }
            (Inner::HalfOpen { .. }, false) => {
                gauge(self.name, State::Closed);
                tracing::info!(message = "Circuit closed.", breaker = self.name);
                Inner::Closed { failures: 0 }
            }
            (Inner::Closed { .. } | Inner::HalfOpen { .. }, true) => {
                gauge(self.name, State::Open);
                tracing::warn!(
                    message = "Circuit opened.",
                    breaker = self.name,
                    open_ms = self.settings.open_for.as_millis() as u64
                );
                Inner::Open { until: Instant::now() + self.settings.open_for }
            }
            // A call let through before the breaker opened: it changes nothing.
            (Inner::Open { until }, _) => Inner::Open { until: *until },
        };
        *inner = next;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The breaker as a tower layer over any service that fails with a [`Status`].
#[derive(Clone, Debug)]
pub struct BreakerLayer(pub Breaker);

impl<S> tower::Layer<S> for BreakerLayer {
    type Service = BreakerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService { inner, breaker: self.0.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct BreakerService<S> {
    inner: S,
    breaker: Breaker,
}

impl<S, R> tower::Service<R> for BreakerService<S>
where
    S: tower::Service<R, Error = Status>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = Status;
    type Future = BoxFuture<'static, Result<S::Response, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        if let Err(open) = self.breaker.acquire() {
            return Box::pin(std::future::ready(Err(open)));
        }
        let (breaker, call) = (self.breaker.clone(), self.inner.call(request));
        Box::pin(async move { breaker.admitted(call).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            "test",
            Settings { failure_threshold: 3, open_for: Duration::from_millis(100), half_open_probes: 1 },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_and_probes_after_the_open_time() {
        let b = breaker();
        for _ in 0..2 {
            b.acquire().unwrap();
            b.record(Err(Code::Unavailable));
        }
        assert_eq!(b.state(), State::Closed);
        b.acquire().unwrap();
        b.record(Err(Code::DeadlineExceeded));
        assert_eq!(b.state(), State::Open);
        let refused = b.acquire().unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable);
        assert!(refused.message().contains("circuit open"), "{refused:?}");

        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(b.state(), State::HalfOpen);
        b.acquire().unwrap();
        assert!(b.acquire().is_err(), "only one probe at a time");
        b.record(Err(Code::Unavailable));
        assert_eq!(b.state(), State::Open, "a failed probe opens it again");

        tokio::time::advance(Duration::from_millis(100)).await;
        b.acquire().unwrap();
        b.record(Ok(()));
        assert_eq!(b.state(), State::Closed);
        b.acquire().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn call_records_outcomes_and_does_not_run_the_call_while_open() {
        let b = breaker();
        while b.state() == State::Closed {
            let answer = b.call(async { Err::<(), _>(Status::unavailable("down")) }).await;
            assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
        }
        let ran = std::sync::atomic::AtomicBool::new(false);
        let refused = b
            .call(async {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(refused.unwrap_err().message().contains("circuit open"));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "an open breaker does not make the call");
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_open_it() {
        let b = breaker();
        while b.state() == State::Closed {
            b.acquire().unwrap();
            b.record(Err(Code::Cancelled));
        }
        assert_eq!(b.state(), State::Open);
    }

    #[tokio::test]
    async fn a_call_past_the_channel_timeout_ends_cancelled() {
        // What is_failure relies on: tonic reports its own timeout as CANCELLED.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Accepts and never answers.
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let channel = crate::client::channel(&url, std::time::Duration::from_millis(100)).unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let answer = health.check(tonic_health::pb::HealthCheckRequest::default()).await.unwrap_err();
        assert!(is_failure(answer.code()), "{answer:?}");
        silent.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn business_answers_and_successes_keep_it_closed() {
        let b = breaker();
        for _ in 0..10 {
            b.acquire().unwrap();
            b.record(Err(Code::FailedPrecondition));
            b.acquire().unwrap();
            b.record(Err(Code::Unavailable));
            b.acquire().unwrap();
            b.record(Ok(()));
        }
        assert_eq!(b.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_refuses_without_calling_while_open() {
        use tower::{Layer as _, Service as _, ServiceExt as _};
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let failing = tower::service_fn(move |_: ()| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(Err::<(), _>(Status::unavailable("down")))
        });
        let mut service = BreakerLayer(breaker()).layer(failing);
        for _ in 0..5 {
            let _ = service.ready().await.unwrap().call(()).await;
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "calls stop once open");
    }
}
