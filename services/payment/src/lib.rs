//! The payment service: charges and refunds against the card acquirer.
//!
//! Owns (database `cinema_payment`): `payments`, one row per charge key, with
//! its status (`CAPTURED`, `DECLINED`, `REFUNDED`), the acquirer's reference,
//! the decline reason and the refund key.
//!
//! Layout: [`acquirer`] is the simulated card acquirer (idempotent on the key);
//! `service` owns the transactions; `grpc` maps requests and errors.
//!
//! Invariants: a charge key is charged at most once (the acquirer remembers
//! its answer per key, and `charge_key` is unique, so a retry or a concurrent
//! duplicate gets the first answer); only a captured payment is refunded, and
//! at most once; a decline is an answer, not an error.
//!
//! Emits: `PaymentCaptured`, `PaymentDeclined`, `PaymentRefunded` (aggregate:
//! the payment id), each in the transaction that records it.

pub mod acquirer;
mod app;
mod config;
mod domain;
mod grpc;
mod service;
mod store;

pub use app::App;
pub use config::Config;
pub use service::Error;
