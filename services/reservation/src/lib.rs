//! The reservation service: the booking record, and the booking view customers read.
//!
//! Owns (database `cinema_reservation`): `reservations`, one row per booking
//! number: customer, screening, seats, status and reason, and once confirmed
//! the payment, amount, movie title, screen name and start time.
//!
//! Serves `ReservationService` (internal: the orchestrator creates, confirms,
//! rejects and cancels), `BookingQueryService` (public: get, list, watch) and
//! `BookingViewAdmin` (internal: rebuild the view).
//!
//! The booking view (CQRS read side) is a JetStream KV bucket (`view_bucket`,
//! key = booking number, JSON value) that the projector folds from the
//! BOOKING, PAYMENT and SEATS streams; GetBooking and WatchBooking read it.
//!
//! Invariants: status moves only along the transition table in `domain`;
//! a transition to the status a booking is already in changes nothing; every
//! change has exactly one `BookingStatusChanged` event with the next version,
//! committed in the same transaction.
//!
//! Emits: `BookingStatusChanged` (aggregate: the booking number; version: the
//! reservation's version), also on creation (PENDING, previous UNSPECIFIED).

mod app;
mod config;
mod domain;
mod grpc;
mod projector;
mod service;
mod store;
mod view;

pub use app::App;
pub use config::Config;
pub use service::Error;
