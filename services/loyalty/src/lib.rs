//! The loyalty service: points earned on confirmed bookings.
//!
//! Owns (database `cinema_loyalty`): `ledger` (one ACCRUAL per confirmed
//! booking, one REVOCATION per cancelled one) and `balances` (per customer).
//!
//! Invariants:
//! - a booking accrues at most once and is revoked at most once
//!   (`UNIQUE (booking_number, kind)`), and a revocation takes back exactly
//!   what was accrued; a booking that accrued nothing revokes nothing;
//! - a customer's balance is the sum of their ledger and never negative: each
//!   entry and its balance change commit together, with the event's inbox row,
//!   so replays and duplicates change nothing;
//! - the rules (how much, when) are pure, in `domain`.
//!
//! Consumes `BookingStatusChanged` (durable consumer `loyalty`): CONFIRMED
//! accrues `accrual_percent` of the amount paid (rounded down), CANCELLED
//! revokes it. Emits nothing yet (the partner accrual relay comes next).

mod app;
mod config;
mod domain;
mod grpc;
mod service;
mod store;

pub use app::App;
pub use config::Config;
pub use service::Error;
