//! Webhook signatures: how cinema signs a webhook and how a receiver checks it.
//!
//! Every webhook POST carries
//! - `X-Cinema-Timestamp`: Unix seconds when this attempt was signed (each
//!   retry is signed afresh, the body stays the same);
//! - `X-Cinema-Signature`: `sha256=` and the lowercase hex of
//!   HMAC-SHA256(secret, `"{timestamp}.{body}"`), over the raw body bytes;
//! - `Idempotency-Key`: the event id. One status change is one event: a
//!   receiver that sees a key again has seen this message (a retry after a
//!   lost answer) and should answer 2xx without acting twice.
//!
//! A receiver verifies in this order (what [`verify`] does):
//! 1. read the raw body before parsing it (re-serialized JSON does not match);
//! 2. reject a timestamp further than the tolerance (5 minutes) from its own
//!    clock, in either direction: a captured request cannot be replayed later;
//! 3. recompute the HMAC over `"{timestamp}.{body}"` and compare in constant
//!    time; a different secret, body or timestamp fails.
//!
//! Within the tolerance a replayed request passes the signature check; the
//! `Idempotency-Key` is what makes it harmless.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Cinema-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Cinema-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// How far a receiver should accept a timestamp from its own clock.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a webhook was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the timestamp is not Unix seconds")]
    MalformedTimestamp,
    #[error("the timestamp is {age_secs} s away from now")]
    Stale { age_secs: u64 },
    #[error("the signature is not sha256=<hex>")]
    MalformedSignature,
    #[error("the signature does not match")]
    Mismatch,
}

/// The `X-Cinema-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("sha256={}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Checks a received webhook: the headers' values as sent, the raw body, the
/// receiver's clock (`now`, Unix seconds) and how old a request may be.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), Rejected> {
    let sent: i64 = timestamp.trim().parse().map_err(|_| Rejected::MalformedTimestamp)?;
    let age_secs = now.abs_diff(sent);
    if age_secs > tolerance.as_secs() {
        return Err(Rejected::Stale { age_secs });
    }
    let hex = signature.trim().strip_prefix("sha256=").ok_or(Rejected::MalformedSignature)?;
    let tag = decode_hex(hex).ok_or(Rejected::MalformedSignature)?;
    mac(secret, sent, body).verify_slice(&tag).map_err(|_| Rejected::Mismatch)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_0123456789abcdef";
    const BODY: &[u8] = br#"{"booking_number":"BK1","status":"CONFIRMED"}"#;

    #[test]
    fn a_signature_verifies_with_the_same_secret_body_and_time() {
        let signature = sign(SECRET, 1_795_000_000, BODY);
        assert!(signature.starts_with("sha256=") && signature.len() == 7 + 64, "{signature}");
        assert_eq!(verify(SECRET, "1795000000", &signature, BODY, 1_795_000_010, DEFAULT_TOLERANCE), Ok(()));
    }

    #[test]
    fn matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1.{}",hashlib.sha256).hexdigest())'
        assert_eq!(sign(b"key", 1, b"{}"), "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }

    #[test]
    fn anything_changed_is_refused() {
        let (sent, now) = (1_795_000_000, 1_795_000_000);
        let signature = sign(SECRET, sent, BODY);
        let check = |secret: &[u8], timestamp: &str, signature: &str, body: &[u8]| {
            verify(secret, timestamp, signature, body, now, DEFAULT_TOLERANCE)
        };
        assert_eq!(check(b"another secret", "1795000000", &signature, BODY), Err(Rejected::Mismatch));
        assert_eq!(check(SECRET, "1795000000", &signature, b"{}"), Err(Rejected::Mismatch));
        assert_eq!(check(SECRET, "1795000001", &signature, BODY), Err(Rejected::Mismatch));
        assert_eq!(check(SECRET, "soon", &signature, BODY), Err(Rejected::MalformedTimestamp));
        assert_eq!(check(SECRET, "1795000000", "md5=00", BODY), Err(Rejected::MalformedSignature));
        assert_eq!(check(SECRET, "1795000000", "sha256=zz", BODY), Err(Rejected::MalformedSignature));
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let signature = sign(SECRET, 1_000, BODY);
        let tolerance = Duration::from_secs(300);
        assert_eq!(verify(SECRET, "1000", &signature, BODY, 1_300, tolerance), Ok(()));
        assert_eq!(verify(SECRET, "1000", &signature, BODY, 1_301, tolerance), Err(Rejected::Stale { age_secs: 301 }));
        assert_eq!(verify(SECRET, "1000", &signature, BODY, 699, tolerance), Err(Rejected::Stale { age_secs: 301 }));
    }
}
