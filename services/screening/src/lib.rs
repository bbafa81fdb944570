//! The screening service: movies, screens and screenings.
//!
//! Owns (database `cinema_screening`): `screens` (seat layout, seeded),
//! `movies` (each assigned a screen on registration: the least busy one),
//! `screenings` (start, end, prices).
//!
//! Invariants: two screenings never overlap on one screen; a screening's end
//! is its start plus the movie's running time.
//!
//! Emits: `MovieRegistered`, `ScreeningScheduled` (carrying every seat and its
//! price, from which the seats service builds the inventory).

mod app;
mod config;
mod domain;
mod grpc;
mod service;
mod store;

pub use app::App;
pub use config::Config;
pub use service::Error;
