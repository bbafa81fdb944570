//! The notification service: a message to the customer on every booking
//! status change, on every configured channel.
//!
//! Layout: [`channel`] (log, KakaoTalk Alimtalk-style HTTP, signed webhook),
//! [`signature`] (how webhooks are signed and how a receiver verifies them),
//! `domain` (Korean texts, backoff, which HTTP answers are final), `service`
//! (record deliveries from events; the sender loop), `store`, `grpc`
//! (ListNotifications).
//!
//! Owns (database `cinema_notification`): `deliveries`, one per (event,
//! channel): the Korean text, its status (PENDING, DELIVERED, DEAD_LETTERED),
//! attempts, the last error and when it is due next; `poison_events`, events
//! that can never be read, acked and kept for a human.
//!
//! Invariants:
//! - an event is recorded in the inbox in the same transaction as its
//!   deliveries, so a redelivered or replayed event creates nothing, and
//!   `UNIQUE (event_id, channel)` backs it up: one delivery per event and channel;
//! - a delivery is sent at least once until it is DELIVERED or DEAD_LETTERED:
//!   the sender claims due deliveries with a lease (a crashed sender's
//!   deliveries come due again), sends, then records the attempt; every
//!   request carries `Idempotency-Key: <event id>` so receivers drop repeats;
//! - a failure is retried after `retry_base_ms`, doubling up to
//!   `retry_max_ms`; after `max_attempts` failures, or at once when the
//!   receiver refuses the request for good (400, 410, 413, 415, 422), the
//!   delivery is DEAD_LETTERED; ListNotifications shows attempts and last error;
//! - every status but UNSPECIFIED is customer-visible, CANCELLING included;
//! - consuming never waits on a provider: events only write rows.
//!
//! Consumes `BookingStatusChanged` (durable consumer `consumer`, default
//! `notification`); emits nothing.

mod app;
pub mod channel;
mod config;
mod domain;
mod grpc;
mod service;
pub mod signature;
mod store;

pub use app::App;
pub use config::{Config, Kakao, Templates, Webhook};
pub use service::Error;
