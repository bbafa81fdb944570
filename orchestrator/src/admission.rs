//! Admission control for flash sales: a token bucket per screening.
//!
//! Each screening may start `rate_per_sec` new bookings a second on average,
//! and up to `burst` at once after a quiet spell. A booking beyond that is
//! refused before anything is written, with how long until a token is back,
//! so one hot screening cannot take the whole system down with it and other
//! screenings keep their share. `rate_per_sec = 0` turns it off.
//!
//! The bucket is kept as GCRA (the generic cell rate algorithm): per screening
//! only the "theoretical arrival time" of the next booking, in exact integer
//! time. Pure: every decision takes `now`, so tests drive the clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Screenings tracked before the idle ones (whose bucket is full, which a
/// missing entry says as well) are forgotten.
const MAX_TRACKED: usize = 4096;

/// The slowest rate honoured: one booking an hour.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// New bookings per second per screening; 0 (or less) = no admission control.
    pub rate_per_sec: f64,
    /// How many may start at once after a quiet spell; at least 1.
    pub burst: u32,
}

/// The shared admission gate; clones share the buckets.
#[derive(Clone, Debug)]
pub struct Admission {
    /// Time between two bookings at the steady rate; `None`: off.
    interval: Option<Duration>,
    /// How far ahead of the steady rate a burst may run.
    tolerance: Duration,
    /// Per screening: when its bucket is full again (GCRA's theoretical arrival time).
    full_at: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

impl Admission {
    pub fn new(settings: Settings) -> Self {
        let interval = (settings.rate_per_sec > 0.0).then(|| {
            Duration::try_from_secs_f64(1.0 / settings.rate_per_sec).unwrap_or(MAX_INTERVAL).min(MAX_INTERVAL)
        });
        let tolerance = interval.unwrap_or_default().saturating_mul(settings.burst.max(1) - 1);
        Self { interval, tolerance, full_at: Arc::default() }
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Takes a token for a booking of `screening` at `now`, or says how long
    /// until one is back (whole milliseconds, rounded up: waiting that long is
    /// enough).
    pub fn admit(&self, screening: Uuid, now: Instant) -> Result<(), Duration> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut full_at = self.full_at.lock().unwrap_or_else(|e| e.into_inner());
        if full_at.len() >= MAX_TRACKED && !full_at.contains_key(&screening) {
            full_at.retain(|_, at| *at > now);
        }
        let at = full_at.get(&screening).copied().unwrap_or(now).max(now);
        let ahead = at - now;
        if ahead <= self.tolerance {
            full_at.insert(screening, at + interval);
            Ok(())
        } else {
            let wait = ahead - self.tolerance;
            Err(Duration::from_millis(wait.as_nanos().div_ceil(1_000_000) as u64))
        }
    }

    /// How many screenings have a bucket (for tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.full_at.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(rate_per_sec: f64, burst: u32) -> Admission {
        Admission::new(Settings { rate_per_sec, burst })
    }

    #[test]
    fn a_burst_is_admitted_then_refused_with_the_time_until_the_next_token() {
        let gate = gate(10.0, 3);
        let (screening, t0) = (Uuid::new_v4(), Instant::now());
        for _ in 0..3 {
            gate.admit(screening, t0).unwrap();
        }
        assert_eq!(gate.admit(screening, t0), Err(Duration::from_millis(100)));
        assert_eq!(gate.admit(screening, t0 + Duration::from_millis(40)), Err(Duration::from_millis(60)));
        // Waiting the hint is enough, and exactly one gets in.
        let later = t0 + Duration::from_millis(100);
        gate.admit(screening, later).unwrap();
        assert!(gate.admit(screening, later).is_err());
    }

    #[test]
    fn the_rate_holds_over_time_and_a_quiet_spell_refills_only_up_to_the_burst() {
        let gate = gate(5.0, 2);
        let (screening, t0) = (Uuid::new_v4(), Instant::now());
        // Ten seconds of a client asking every 10 ms: 2 (burst) + 5 a second.
        let admitted = (0..1000).filter(|i| gate.admit(screening, t0 + Duration::from_millis(i * 10)).is_ok()).count();
        assert!((51..=52).contains(&admitted), "{admitted} admitted");

        let quiet = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| gate.admit(screening, quiet).is_ok()).count(), 2);
    }

    #[test]
    fn screenings_do_not_share_a_bucket() {
        let gate = gate(1.0, 1);
        let (hot, cold, t0) = (Uuid::new_v4(), Uuid::new_v4(), Instant::now());
        gate.admit(hot, t0).unwrap();
        assert_eq!(gate.admit(hot, t0), Err(Duration::from_secs(1)));
        gate.admit(cold, t0).unwrap();
    }

    #[test]
    fn rate_zero_admits_everything() {
        let gate = gate(0.0, 0);
        assert!(!gate.enabled());
        let (screening, t0) = (Uuid::new_v4(), Instant::now());
        assert!((0..10_000).all(|_| gate.admit(screening, t0).is_ok()));
        assert_eq!(gate.tracked(), 0);
    }

    #[test]
    fn burst_zero_still_admits_one() {
        let gate = gate(1.0, 0);
        let (screening, t0) = (Uuid::new_v4(), Instant::now());
        gate.admit(screening, t0).unwrap();
        assert!(gate.admit(screening, t0).is_err());
    }

    #[test]
    fn a_clock_that_goes_back_does_not_mint_tokens() {
        let gate = gate(1.0, 1);
        let (screening, t0) = (Uuid::new_v4(), Instant::now() + Duration::from_secs(10));
        gate.admit(screening, t0).unwrap();
        assert!(gate.admit(screening, t0 - Duration::from_secs(5)).is_err());
        assert!(gate.admit(screening, t0 + Duration::from_millis(500)).is_err());
        gate.admit(screening, t0 + Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_screenings_are_tracked() {
        let gate = gate(100.0, 1);
        let t0 = Instant::now();
        for _ in 0..MAX_TRACKED {
            gate.admit(Uuid::new_v4(), t0).unwrap();
        }
        assert_eq!(gate.tracked(), MAX_TRACKED);
        // A second later every bucket is full again: all but the new one go.
        gate.admit(Uuid::new_v4(), t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(gate.tracked(), 1);
    }
}
