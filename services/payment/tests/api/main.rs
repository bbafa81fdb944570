//! The payment service through its gRPC API, on a fresh database and port 0.
//! Needs Postgres (`CINEMA_TEST_POSTGRES_URL`) and NATS (`CINEMA_TEST_NATS_URL`).

mod charge;
mod helpers;
mod refund;
