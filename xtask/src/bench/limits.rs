//! The limits of this machine, measured in the same run as the benchmark:
//! - `L_pg`: Postgres committing the booking's own transaction shape (two seat rows
//!   locked and updated, a reservation row, an outbox row; synchronous commit), as many
//!   clients as cores times four, each on its own screening (no contention), tps;
//! - `L_js`: JetStream acknowledged publishes a second on a file-store stream like ours,
//!   one in flight and 64 in flight.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;

/// Committed booking-shaped transactions a second.
pub async fn postgres(server: &str, clients: usize, duration: Duration) -> Result<f64> {
    let database = format!("cinema_bench_limits_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres")).await.context("connect")?;
    diesel::sql_query(format!("CREATE DATABASE {database}")).execute(&mut admin).await?;
    let url = format!("{server}/{database}");
    let result = run_postgres(&url, clients, duration).await;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).execute(&mut admin).await?;
    result
}

async fn run_postgres(url: &str, clients: usize, duration: Duration) -> Result<f64> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    for ddl in [
        "CREATE TABLE seats (screening_id uuid, seat_id text, status text NOT NULL, booking_number text, \
         PRIMARY KEY (screening_id, seat_id))",
        "CREATE TABLE reservations (booking_number text PRIMARY KEY, customer_id text NOT NULL, \
         screening_id uuid NOT NULL, seat_ids text[] NOT NULL, status text NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE outbox (id bigserial PRIMARY KEY, subject text NOT NULL, payload bytea NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now())",
    ] {
        diesel::sql_query(ddl).execute(&mut conn).await?;
    }
    // Seats for every client first (a screening each, so no transaction waits on
    // another), then all start together.
    const SEATS: u64 = 40_000;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (url, start) = (url.to_owned(), std::sync::Arc::clone(&start));
        workers.push(tokio::spawn(async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            let screening = uuid::Uuid::new_v4();
            diesel::sql_query(
                "INSERT INTO seats (screening_id, seat_id, status) \
                 SELECT $1, 'A-' || g, 'AVAILABLE' FROM generate_series(1, 40000) g",
            )
            .bind::<SqlUuid, _>(screening)
            .execute(&mut conn)
            .await?;
            start.wait().await;
            let deadline = Instant::now() + duration;
            let mut done = 0u64;
            while Instant::now() < deadline && done * 2 + 2 <= SEATS {
                let seats = vec![format!("A-{}", done * 2 + 1), format!("A-{}", done * 2 + 2)];
                let number = format!("BK{:012}", done);
                let seats_in = seats.clone();
                conn.transaction::<_, anyhow::Error, _>(async |c| {
                    diesel::sql_query(
                        "SELECT seat_id FROM seats WHERE screening_id = $1 AND seat_id = ANY($2) \
                         ORDER BY seat_id FOR UPDATE",
                    )
                    .bind::<SqlUuid, _>(screening)
                    .bind::<Array<Text>, _>(&seats_in)
                    .execute(c)
                    .await?;
                    diesel::sql_query(
                        "UPDATE seats SET status = 'SOLD', booking_number = $3 \
                         WHERE screening_id = $1 AND seat_id = ANY($2)",
                    )
                    .bind::<SqlUuid, _>(screening)
                    .bind::<Array<Text>, _>(&seats_in)
                    .bind::<Text, _>(&number)
                    .execute(c)
                    .await?;
                    diesel::sql_query(
                        "INSERT INTO reservations (booking_number, customer_id, screening_id, seat_ids, status) \
                         VALUES ($1, 'bench', $2, $3, 'CONFIRMED')",
                    )
                    .bind::<Text, _>(&number)
                    .bind::<SqlUuid, _>(screening)
                    .bind::<Array<Text>, _>(&seats_in)
                    .execute(c)
                    .await?;
                    diesel::sql_query(
                        "INSERT INTO outbox (subject, payload) VALUES ('cinema.booking.status_changed', $1::bytea)",
                    )
                    .bind::<Text, _>("\\x0a0c424b303030303030303030303031")
                    .execute(c)
                    .await?;
                    Ok(())
                })
                .await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let mut total = 0;
    for worker in workers {
        total += worker.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64().max(duration.as_secs_f64()))
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
