//! The loyalty service: points earned on confirmed bookings, relayed to a
//! partner (alliance) program.
//!
//! Layout: `domain` (how many points, when, where they are relayed; no I/O),
//! `service` (apply events, link memberships, read points), `relay` (the
//! partner outbox sender), `store`, `grpc` (GetPoints, LinkPartner, UnlinkPartner).
//!
//! Owns (database `cinema_loyalty`): `ledger` (one ACCRUAL per confirmed
//! booking, one REVOCATION per cancelled one), `balances` (per customer),
//! `cancelled_bookings` (every cancellation handled), `partner_links` (one
//! membership per customer), `partner_deliveries` (the partner outbox, one
//! row per relayed entry) and `poison_events`.
//!
//! Invariants:
//! - a booking accrues at most once and is revoked at most once
//!   (`UNIQUE (booking_number, kind)`), and a revocation takes back exactly
//!   what was accrued; a booking that accrued nothing revokes nothing;
//! - cancelled is final: a CONFIRMED event handled after its booking's
//!   CANCELLED event (events are not ordered across redeliveries) grants
//!   nothing, because the cancellation is recorded even when it revokes nothing;
//! - a customer's balance is the sum of their ledger and never negative: each
//!   entry, its balance change, its partner outbox row and the event's inbox
//!   row commit together, so replays and duplicates change nothing;
//! - an entry is relayed when the customer's membership is linked (an
//!   accrual) or when its accrual was relayed (a revocation goes to the same
//!   membership); the relay sends until the partner applies it, with the entry
//!   id as `Idempotency-Key`: at least once on the wire, exactly once in effect
//!   at a partner that dedupes on the key; a revocation is never sent before
//!   its accrual;
//! - the rules (how much, when, where) are pure, in `domain`.
//!
//! Consumes `BookingStatusChanged` (durable consumer `consumer`, default
//! `loyalty`): CONFIRMED accrues `accrual_percent` of the amount paid
//! (rounded down), CANCELLED revokes it. Emits no events; POSTs to the partner.

mod app;
mod config;
mod domain;
mod grpc;
mod relay;
mod service;
mod store;

pub use app::App;
pub use config::{Config, Partner};
pub use service::Error;
