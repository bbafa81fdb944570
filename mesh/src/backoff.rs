//! How long to wait before trying again.

use std::time::Duration;

/// The wait after the `attempts`-th failure: `base`, doubling each time, at most `max`.
pub fn doubling(attempts: u32, base: Duration, max: Duration) -> Duration {
    base.saturating_mul(1 << attempts.saturating_sub(1).min(20)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_its_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<u128> = (0..=6).map(|n| doubling(n, base, max).as_millis()).collect();
        assert_eq!(waits, [100, 100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(doubling(u32::MAX, base, max), max);
        assert_eq!(doubling(3, Duration::MAX, max), max, "no overflow");
    }
}
