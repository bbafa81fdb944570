//! Liveness from the process's own loops: each long-running loop (saga runner,
//! outbox relay, consumer) holds a [`Heartbeat`] and calls [`Heartbeat::beat`]
//! every time round. A loop that has not beaten for its `stall_after` is
//! stuck; while any is, the server reports health service `"liveness"`
//! NOT_SERVING, so the orchestrator (Kubernetes) restarts the process.
//!
//! A heartbeat dropped normally (the loop ended at shutdown) is forgotten; one
//! dropped while its task panics stays registered and soon counts as stuck: a
//! dead loop is as bad as a stuck one.
//!
//! [`global`] is the process's watchdog, which `server::serve` watches; loops
//! register with [`heartbeat`] without any plumbing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Shutdown;

/// How often the watcher looks at the heartbeats.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// A set of heartbeats; clones share them.
#[derive(Clone, Debug, Default)]
pub struct Watchdog {
    beats: Arc<Mutex<BTreeMap<u64, Entry>>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    last: Instant,
    stall_after: Duration,
}

/// One loop's proof of life.
#[derive(Debug)]
pub struct Heartbeat {
    id: u64,
    watchdog: Watchdog,
}

/// The process's watchdog (the one `server::serve` reports on).
pub fn global() -> &'static Watchdog {
    static GLOBAL: OnceLock<Watchdog> = OnceLock::new();
    GLOBAL.get_or_init(Watchdog::default)
}

/// Registers a loop with the process's watchdog: it is stuck when it has not
/// beaten for `stall_after` (pick several times its longest legitimate wait).
pub fn heartbeat(name: impl Into<String>, stall_after: Duration) -> Heartbeat {
    global().register(name, stall_after)
}

impl Watchdog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, name: impl Into<String>, stall_after: Duration) -> Heartbeat {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry { name: name.into(), last: Instant::now(), stall_after };
        self.lock().insert(id, entry);
        Heartbeat { id, watchdog: self.clone() }
    }

    /// The loops that have not beaten within their `stall_after` at `now`,
    /// with how long they have been silent.
    pub fn stalled(&self, now: Instant) -> Vec<(String, Duration)> {
        self.lock()
            .values()
            .map(|e| (e.name.clone(), now.saturating_duration_since(e.last), e.stall_after))
            .filter(|(_, silent, stall_after)| silent > stall_after)
            .map(|(name, silent, _)| (name, silent))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.beats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Heartbeat {
    /// "Still going."
    pub fn beat(&self) {
        if let Some(entry) = self.watchdog.lock().get_mut(&self.id) {
            entry.last = Instant::now();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        // A panicking loop keeps its (now silent) entry: it will count as stuck.
        if !std::thread::panicking() {
            self.watchdog.lock().remove(&self.id);
        }
    }
}

/// Keeps liveness (`service`) NOT_SERVING while any loop is stuck and SERVING
/// otherwise, until `shutdown`.
pub async fn watch(watchdog: Watchdog, reporter: HealthReporter, service: &str, shutdown: Shutdown) {
    let mut was_live = true;
    loop {
        let stalled = watchdog.stalled(Instant::now());
        let live = stalled.is_empty();
        if live != was_live {
            if live {
                tracing::info!(message = "Every loop is beating again; liveness SERVING.");
            } else {
                let loops: Vec<String> =
                    stalled.iter().map(|(name, silent)| format!("{name} (silent {} ms)", silent.as_millis())).collect();
                tracing::error!(message = "Loop stuck; liveness NOT_SERVING.", loops = loops.join(", "));
            }
            let status = if live { ServingStatus::Serving } else { ServingStatus::NotServing };
            reporter.set_service_status(service, status).await;
            was_live = live;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_stops_beating_is_stalled_until_it_beats_again() {
        let watchdog = Watchdog::new();
        let relay = watchdog.register("outbox relay", Duration::from_secs(5));
        let runner = watchdog.register("saga runner", Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(watchdog.stalled(t0).is_empty());

        tokio::time::advance(Duration::from_secs(6)).await;
        runner.beat();
        let stalled = watchdog.stalled(Instant::now());
        assert_eq!(stalled, vec![("outbox relay".to_owned(), Duration::from_secs(6))]);

        relay.beat();
        assert!(watchdog.stalled(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(watchdog.stalled(Instant::now()).len(), 2, "both silent past their limits");
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_loop_is_forgotten_and_a_panicked_one_counts_as_stuck() {
        let watchdog = Watchdog::new();
        drop(watchdog.register("consumer", Duration::from_secs(1)));
        let dying = watchdog.clone();
        let died = tokio::spawn(async move {
            let _beat = dying.register("runner", Duration::from_secs(1));
            panic!("intended: this loop dies, and the test checks it then counts as stuck");
        })
        .await;
        assert!(died.is_err());
        tokio::time::advance(Duration::from_secs(2)).await;
        let names: Vec<String> = watchdog.stalled(Instant::now()).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["runner"]);
    }
}
