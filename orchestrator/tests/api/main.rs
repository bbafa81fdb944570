//! The orchestrator through its gRPC API, on a fresh database and port 0, with
//! every participant unreachable (so sagas stay PENDING and retry). Needs
//! Postgres (`CINEMA_TEST_POSTGRES_URL`).

mod booking;
mod helpers;
mod operator;
