//! The loyalty service through its gRPC API, with a real local HTTP server as
//! the partner: a fresh database, port 0, a BOOKING subject and durable
//! consumer of its own per test. Needs Postgres (`CINEMA_TEST_POSTGRES_URL`,
//! default 127.0.0.1:5432) and NATS with JetStream (`CINEMA_TEST_NATS_URL`,
//! default 127.0.0.1:4222).

mod consumer;
mod helpers;
mod https;
mod partner;
