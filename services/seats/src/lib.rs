//! The seats service: the seat inventory of every screening.
//!
//! Owns (database `cinema_seats`): `screenings` and `seats`, built from
//! `ScreeningScheduled` events (so booking never needs the screening service),
//! and `holds`, one per booking.
//!
//! Invariants:
//! - a seat is AVAILABLE, HELD by one booking until its expiry, or SOLD to one
//!   booking; every change locks the seat rows first (in seat order), so a
//!   seat is never held or sold twice, under any concurrency;
//! - a hold is all or nothing;
//! - every internal call is idempotent on its booking number;
//! - an expired hold counts as free: another booking may take its seats.
//!
//! Serves the live seat map (`WatchSeatMap`) from the SEATS stream (`feed`).
//!
//! Emits `SeatsHeld`, `SeatsSold`, `SeatsReleased`; consumes `ScreeningScheduled`.

mod app;
mod config;
mod domain;
mod feed;
mod grpc;
mod service;
mod store;

pub use app::App;
pub use config::Config;
pub use service::Error;
