//! Orchestrator replicas behind the gateway: one Envoy cluster lists them all (gRPC health
//! checks, BookingService retried on another replica when one refuses or drops a call).
//! Throughput with one, two and three replicas is printed (not asserted: two shared
//! cores). Then, under load, one of three is `kill -9`ed every ~3 s and started again:
//! every answered booking ends in the view as its saga ended, no saga is left unfinished
//! (the survivors take the dead one's sagas over when their leases expire), and the
//! invariants hold.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use cinema_proto::reservation::v1::GetBookingRequest;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_tests::chaos::saga_states;
use cinema_tests::gateway::ExtraGateway;
use cinema_tests::load::{self, Mode};
use cinema_tests::{DatabaseChoice, Service, Stack, StackOptions, invariants, poll_until};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

/// The orchestrator's lease: a dead replica's sagas are taken over this long after its
/// last claim (plus a poll).
const LEASE_SECS: &str = "2";

#[tokio::test(flavor = "multi_thread")]
async fn three_orchestrator_replicas_lose_no_booking_while_one_is_killed_every_3_s() -> Result<()> {
    // Three orchestrators' pools and the participants' under load: up to ~100 connections,
    // the shared server's whole limit. An own server (max_connections 300) keeps the
    // tests running beside this one clear of it.
    let options = StackOptions { database: DatabaseChoice::Embedded { port: None }, ..StackOptions::for_tests() }
        .service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", LEASE_SECS)
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "500");
    let stack = Stack::start(options).await?;
    let mut screenings = Screenings::new(&stack)?;

    // Throughput with 1, 2 and 3 replicas, each behind a gateway listing exactly them.
    let mut orchestrators = vec![stack.port(Service::Orchestrator)];
    let mut throughput = Vec::new();
    for replicas in 1..=3 {
        if replicas > 1 {
            orchestrators.push(stack.add_replica(Service::Orchestrator, &[]).await?);
        }
        let gateway = ExtraGateway::with_orchestrators(&stack, &orchestrators).await?;
        let options = load::Options {
            booking_url: gateway.url(),
            admin_url: gateway.url(),
            screenings: screenings.make(4).await?,
            settle: Duration::ZERO,
            request_timeout: Duration::from_secs(15),
            ..stack.load_options(Mode::Closed { clients: 16 }, Duration::from_secs(8))?
        };
        let summary = load::run(&options).await.with_context(|| format!("load with {replicas} replicas"))?;
        ensure!(summary.booked > 0, "nothing booked with {replicas} replicas: {:?}", summary.by_error);
        throughput.push((replicas, summary));
        invariants::settle(&stack, Duration::from_secs(60)).await?;
    }
    for (replicas, summary) in &throughput {
        eprintln!(
            "orchestrator replicas {replicas}: {:.1} bookings/s answered ({} booked, {} failed {:?}), \
             p50 {:.0} ms, p99 {:.0} ms",
            summary.throughput_per_sec,
            summary.booked,
            summary.failed,
            summary.by_error,
            summary.latency_ms.p50,
            summary.latency_ms.p99
        );
    }

    // Open-loop load while one replica in turn is killed and started again.
    let gateway = ExtraGateway::with_orchestrators(&stack, &orchestrators).await?;
    let load_for = Duration::from_secs(20);
    let options = load::Options {
        booking_url: gateway.url(),
        admin_url: gateway.url(),
        screenings: screenings.make(4).await?,
        settle: Duration::ZERO,
        request_timeout: Duration::from_secs(15),
        max_in_flight: 64,
        ..stack.load_options(Mode::Open { rate: 12.0 }, load_for)?
    };
    let load = tokio::spawn(async move { load::run(&options).await });
    let started = Instant::now();
    let mut kills = Vec::new();
    for turn in 0.. {
        // The fault's cadence, not synchronization.
        tokio::time::sleep(Duration::from_secs(3)).await;
        if started.elapsed() + Duration::from_secs(2) > load_for {
            break;
        }
        // A replica driving a saga right now (the next in turn first), else the next in turn.
        let turns = orchestrators.iter().cycle().skip(turn % orchestrators.len()).take(orchestrators.len());
        let driving =
            poll_until("a replica driving a saga", Duration::from_secs(1), Duration::from_millis(5), || async {
                let pids = driving_pids(&stack).await?;
                Ok(turns.clone().copied().find(|port| pid_of(&stack, *port).is_some_and(|pid| pids.contains(&pid))))
            })
            .await;
        let mid_saga = driving.is_ok();
        let victim = driving.unwrap_or(orchestrators[turn % orchestrators.len()]);
        let killed = Instant::now();
        if victim == stack.port(Service::Orchestrator) {
            stack.kill(Service::Orchestrator)?;
            stack.restart(Service::Orchestrator).await?;
        } else {
            stack.kill_replica(victim)?;
            stack.restart_replica(victim).await?;
        }
        let when = killed - started;
        kills.push(format!(
            "{victim} @ {when:.1?}{} (back in {:.1?})",
            if mid_saga { " mid-saga" } else { "" },
            killed.elapsed()
        ));
    }
    let summary = load.await.context("the load task")??;
    ensure!(summary.booked > 0, "nothing booked: {:?}", summary.error_examples);

    // No saga left unfinished, and every answered booking is in the view as it ended.
    let settled = invariants::settle(&stack, Duration::from_secs(60)).await?;
    let ended = saga_states(&stack).await?;
    let customer = stack.gateway_channel_as(Some(&stack.customer_token("load-customer")))?;
    let mut lost = Vec::new();
    for number in &summary.answered_confirmed {
        if ended.get(number).map(String::as_str) != Some("CONFIRMED") {
            lost.push(format!("{number} was answered CONFIRMED, its saga is {:?}", ended.get(number)));
        }
    }
    let mismatched = std::sync::Mutex::new(Vec::new());
    let in_view = poll_until(
        "every answered booking in the view",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let mut off = Vec::new();
            for number in &summary.booking_numbers {
                let request = GetBookingRequest { booking_number: number.clone(), min_version: 0 };
                let seen = BookingQueryServiceClient::new(customer.clone()).get_booking(request).await;
                let saga = ended.get(number).map(String::as_str).unwrap_or("no saga");
                match seen.map(|b| b.into_inner()) {
                    // `revision` 0: read from the record, not the view.
                    Ok(booking) if booking.revision > 0 && status_name(booking.status) == saga => {}
                    Ok(booking) => off.push(format!(
                        "{number}: view {} (revision {}), saga {saga}",
                        status_name(booking.status),
                        booking.revision
                    )),
                    Err(status) => off.push(format!("{number}: {:?} {}, saga {saga}", status.code(), status.message())),
                }
            }
            let done = off.is_empty();
            *mismatched.lock().unwrap_or_else(|e| e.into_inner()) = off;
            Ok(done.then_some(()))
        },
    )
    .await;
    if in_view.is_err() {
        lost.extend(mismatched.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    ensure!(lost.is_empty(), "answered bookings lost or off in the view:\n  {}", lost.join("\n  "));
    let report = invariants::check(&stack, &invariants::Limits::default()).await?;
    let taken_over = taken_over(&stack, &summary.booking_numbers).await?;
    // A saga whose runner was killed is finished by another process (a survivor, once
    // the lease expired, or the restarted one).
    let mid_saga = kills.iter().filter(|k| k.contains("mid-saga")).count();
    ensure!(mid_saga == 0 || taken_over > 0, "{mid_saga} kills mid-saga, yet no saga changed hands: {kills:?}");

    eprintln!(
        "3 replicas, one killed every 3 s: {} sent, {} booked, answered {:?}, errors {:?} (e.g. {:?}); \
         {:.1} bookings/s, p99 {:.0} ms; kills {kills:?}; {taken_over} answered bookings finished by \
         another replica than the one that began them; all terminal {settled:.1?} after the load; sagas {:?}",
        summary.sent,
        summary.booked,
        summary.by_answer,
        summary.by_error,
        summary.error_examples,
        summary.throughput_per_sec,
        summary.latency_ms.p99,
        report.by_state
    );
    ensure!(kills.len() >= 4, "only {} kills in {load_for:?}: {kills:?}", kills.len());
    drop(gateway);
    stack.shutdown().await
}

/// New screenings for the load, numbered apart so their show times never collide.
struct Screenings {
    admin: cinema_tests::auth::AuthChannel,
    made: usize,
}

impl Screenings {
    fn new(stack: &Stack) -> Result<Self> {
        Ok(Self { admin: stack.gateway_channel_as(Some(&stack.admin_token()))?, made: 0 })
    }

    async fn make(&mut self, n: usize) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(load::create_screening(&self.admin, self.made).await?);
            self.made += 1;
        }
        Ok(ids)
    }
}

/// `CONFIRMED` for `BOOKING_STATUS_CONFIRMED`, as the saga names its end.
fn status_name(status: i32) -> String {
    let status = cinema_proto::common::v1::BookingStatus::try_from(status).unwrap_or_default();
    status.as_str_name().trim_start_matches("BOOKING_STATUS_").to_owned()
}

/// The orchestrator process on `port` (the stack's own or a replica).
fn pid_of(stack: &Stack, port: u16) -> Option<u32> {
    match port == stack.port(Service::Orchestrator) {
        true => stack.pid(Service::Orchestrator),
        false => stack.replica_pid(port),
    }
}

/// The processes that ran the last step of an unfinished saga (runners are `<host>/<pid>`).
async fn driving_pids(stack: &Stack) -> Result<Vec<u32>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        runner: String,
    }
    let mut conn = AsyncPgConnection::establish(&stack.database_url(Service::Orchestrator)).await?;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT (SELECT runner FROM saga_steps t WHERE t.booking_number = s.booking_number ORDER BY id DESC LIMIT 1) \
         AS runner FROM sagas s WHERE s.state NOT IN ('CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED') \
         AND EXISTS (SELECT 1 FROM saga_steps t WHERE t.booking_number = s.booking_number)",
    )
    .load(&mut conn)
    .await?;
    Ok(rows.iter().filter_map(|r| r.runner.rsplit('/').next()?.parse().ok()).collect())
}

/// How many of `numbers` had their steps run by more than one process.
async fn taken_over(stack: &Stack, numbers: &[String]) -> Result<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(&stack.database_url(Service::Orchestrator)).await?;
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT booking_number FROM saga_steps WHERE booking_number = ANY($1) \
         GROUP BY booking_number HAVING count(DISTINCT runner) > 1) AS moved",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(numbers)
    .get_result(&mut conn)
    .await?;
    Ok(count.n)
}
