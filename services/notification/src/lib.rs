//! The notification service: a message to the customer on every booking
//! status change.
//!
//! Owns (database `cinema_notification`): `deliveries`, one per
//! (event, channel): the Korean text, the channel (`log` today; KakaoTalk and
//! webhook next, see [`channel`]), its status (PENDING, DELIVERED,
//! DEAD_LETTERED) and attempts.
//!
//! Invariants:
//! - an event is recorded in the inbox in the same transaction as its
//!   deliveries, so a redelivered event creates nothing (and `UNIQUE
//!   (event_id, channel)` backs it up);
//! - a delivery is sent at least once: right after the commit, and else by
//!   the retry loop, which sends PENDING deliveries older than two seconds;
//! - CANCELLING is not customer-visible: it notifies nobody.
//!
//! Consumes `BookingStatusChanged` (durable consumer `notification`); emits nothing.

mod app;
pub mod channel;
mod config;
mod domain;
mod grpc;
mod service;
mod store;

pub use app::App;
pub use config::Config;
pub use service::Error;
