//! The orchestrator: runs the booking saga (design.md §5) and serves
//! BookingService (BookTickets, CancelBooking).
//!
//! Layout:
//! - [`saga`]: the pure transition table (no I/O, cannot fail);
//! - `runner`: the I/O — calls participants with idempotency keys, classifies
//!   errors once, persists each transition with its history row in one
//!   transaction, resumes unfinished sagas (lease + `FOR UPDATE SKIP LOCKED`);
//! - `service`: book and cancel; `grpc`: the API; `store`: the queries;
//!   `admission`: a token bucket per screening for flash sales;
//! - `operator`: `SagaOperatorService` (internal): a saga's timeline,
//!   RetryNow and ForceCompensate, each audited in `saga_audit`.
//!
//! Owns (database `cinema_orchestrator`): `sagas` (state, what each step
//! learned, attempts, next run, lease), `saga_steps` (every attempt) and
//! `saga_audit` (every operator action).
//!
//! Invariants: a saga is driven by at most one runner at a time (its lease);
//! every step is idempotent at its participant, so re-running a step after a
//! crash changes nothing; a started compensation always runs to its end.

mod admission;
mod app;
mod config;
mod domain;
mod grpc;
mod operator;
pub mod runner;
pub mod saga;
mod service;
mod store;

pub use app::App;
pub use config::Config;
