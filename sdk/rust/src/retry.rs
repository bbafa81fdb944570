//! Retries of transient failures: jittered exponential backoff, at least as long as the
//! server asked (`google.rpc.RetryInfo`), a bounded number of attempts.

use std::future::Future;
use std::time::Duration;

use rand::Rng as _;

use crate::Error;

/// How a [`Client`](crate::Client) retries `UNAVAILABLE`, and `RESOURCE_EXHAUSTED` that
/// says when to come back. Attempt `n` (from 0) waits a random time between half and all
/// of `min(max, first * 2^n)`, and never less than the server's retry delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Calls in all, the first included (1: no retry).
    pub attempts: u32,
}

impl Default for Backoff {
    /// 100 ms, 200 ms, 400 ms, ... up to 5 s between calls; 8 calls (about 10 s of outage).
    fn default() -> Self {
        Self { first: Duration::from_millis(100), max: Duration::from_secs(5), attempts: 8 }
    }
}

impl Backoff {
    /// The wait before retry `n` (0 is the first retry).
    pub fn delay(&self, n: u32, server_hint: Option<Duration>) -> Duration {
        let cap = self.first.saturating_mul(2u32.saturating_pow(n.min(16))).min(self.max);
        let jittered = rand::rng().random_range(cap / 2..=cap);
        jittered.max(server_hint.unwrap_or_default())
    }

    /// Calls `call` until it succeeds, fails for good, or the attempts run out.
    pub(crate) async fn retry<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(answer) => return Ok(answer),
                Err(error) if error.is_transient() && attempt < self.attempts => {
                    tokio::time::sleep(self.delay(attempt - 1, error.retry_after())).await;
                }
                Err(error) => return Err(with_attempts(error, attempt)),
            }
        }
    }
}

/// `error`, saying how many calls were made when it is [`Error::Unavailable`].
pub(crate) fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::Unavailable { message, .. } => Error::Unavailable { message, attempts },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_honour_the_server() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1), attempts: 5 };
        for _ in 0..100 {
            let first = backoff.delay(0, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let late = backoff.delay(10, None);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
            assert!(backoff.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_attempts_run_out() {
        let backoff = Backoff { first: Duration::from_millis(10), max: Duration::from_millis(10), attempts: 3 };
        let calls = AtomicU32::new(0);
        let failed: Result<(), Error> = backoff
            .retry(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::from(tonic::Status::unavailable("down")))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(matches!(failed, Err(Error::Unavailable { attempts: 3, .. })), "{failed:?}");

        let calls = AtomicU32::new(0);
        let answered = backoff
            .retry(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::from(tonic::Status::unavailable("down"))),
                    _ => Ok("booked"),
                }
            })
            .await;
        assert_eq!(answered.ok(), Some("booked"));

        let calls = AtomicU32::new(0);
        let refused: Result<(), Error> = backoff
            .retry(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::from(tonic::Status::failed_precondition("seat taken")))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a refusal is not retried");
        assert!(refused.is_err());
    }
}
