//! How a cinema process joins the mesh.
//!
//! Layout:
//! - [`config`]: typed settings — defaults, then a TOML file, then `CINEMA_*` env.
//! - [`telemetry`]: logs (text or JSON), traces (OTLP, W3C `traceparent` across
//!   gRPC, outbox rows and NATS headers) and the Prometheus endpoint.
//! - [`metrics`]: the shared metric names and the per-RPC layer.
//! - [`store`]: Postgres through diesel-async + deadpool; creates the service's
//!   database when missing and runs the embedded migrations (the outbox and inbox
//!   tables first, then the service's own).
//! - [`bus`]: NATS JetStream: the streams, publishing with `Nats-Msg-Id`, durable
//!   pull consumers with explicit ack.
//! - [`outbox`]: enqueue an event in the caller's transaction; the relay publishes it.
//! - [`inbox`]: "have I processed this event?" in the consumer's transaction;
//!   an event that can never be handled is set aside in `poison_events`.
//! - [`server`]: the gRPC server every service runs: health (readiness and
//!   liveness), reflection v1 and v1alpha, graceful drain on SIGTERM / Ctrl-C,
//!   a limit on calls in flight beyond which calls are shed (RESOURCE_EXHAUSTED).
//! - [`process`]: what every service's `App` shares: connect, bind, run the
//!   background loops beside the server, stop them all on shutdown.
//! - [`client`]: channels to other services, with connect and request deadlines.
//! - [`https`]: the HTTP(S) client for third parties: rustls (ring), the system's
//!   roots plus an optional extra CA file.
//! - [`backoff`]: how long to wait before trying again.
//! - [`breaker`]: a circuit breaker (closed / open / half-open) as a tower layer.
//! - [`identity`]: who is calling (the token the gateway verified), roles, owners.
//! - [`status`]: the few ways a service says no (field violations, reasons).
//! - [`watchdog`]: heartbeats of the long-running loops; a stuck one fails liveness.
//!
//! Invariant: an event is enqueued in the same transaction as the state change
//! it describes, and every consumer records the event id in the same
//! transaction as its effect. Delivery is at least once; effects are exactly once.

pub mod backoff;
pub mod breaker;
pub mod bus;
pub mod client;
pub mod config;
pub mod correlation;
pub mod https;
pub mod identity;
pub mod inbox;
pub mod metrics;
pub mod outbox;
pub mod process;
pub mod server;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod watchdog;

pub use tokio_util::sync::CancellationToken as Shutdown;
