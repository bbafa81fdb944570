//! Past one machine: a three-node JetStream cluster on loopback ports, every stream and
//! the booking view's KV bucket kept on all three (`CINEMA_STREAM_REPLICAS=3`). Under
//! load, the BOOKING stream's leader and then the KV bucket's leader are killed with
//! SIGKILL and started again. Nothing answered may be lost: every CONFIRMED answer is
//! CONFIRMED in the view and was notified, every outbox row is published, every consumer
//! caught up, and the invariants hold.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use async_nats::jetstream;
use cinema_tests::load::{self, Mode};
use cinema_tests::{NatsChoice, Service, StackOptions, invariants, poll_until};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use futures::TryStreamExt as _;

use crate::client::TestApp;

/// The booking view's bucket (the reservation service's default) and its stream.
const VIEW_STREAM: &str = "KV_booking-view";

#[tokio::test(flavor = "multi_thread")]
async fn bookings_survive_killing_the_booking_stream_leader_and_the_view_leader() -> Result<()> {
    let options =
        StackOptions { nats: NatsChoice::Cluster { nodes: 3 }, nats_sync_always: true, ..StackOptions::for_tests() };
    let app = TestApp::spawn_with(options).await?;
    let stack = &app.stack;
    ensure!(stack.nats_nodes() == 3);
    let servers: Vec<async_nats::ServerAddr> = stack.nats_url().split(',').map(str::parse).collect::<Result<_, _>>()?;
    let js = jetstream::new(async_nats::connect(servers).await?);

    // Every stream the services made, and the view, is kept three times.
    let streams = ["SCREENING", "SEATS", "PAYMENT", "BOOKING", "DEADLETTER", VIEW_STREAM];
    let missing = std::sync::Mutex::new(Vec::new());
    let created = poll_until(
        "the services to create their streams",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let mut absent = Vec::new();
            for name in streams {
                if js.get_stream(name).await.is_err() {
                    absent.push(name);
                }
            }
            let done = absent.is_empty();
            *missing.lock().unwrap_or_else(|e| e.into_inner()) = absent;
            Ok(done.then_some(()))
        },
    )
    .await;
    created.with_context(|| format!("missing {:?}", missing.lock().unwrap_or_else(|e| e.into_inner())))?;
    for name in streams {
        let info = js.get_stream(name).await.with_context(|| format!("stream {name}"))?.info().await?.clone();
        ensure!(info.config.num_replicas == 3, "{name} has {} replicas", info.config.num_replicas);
    }

    // Steady load through the gateway.
    let load_for = Duration::from_secs(24);
    let load_options = load::Options {
        new_screenings: 3,
        settle: Duration::ZERO,
        request_timeout: Duration::from_secs(15),
        ..stack.load_options(Mode::Open { rate: 10.0 }, load_for)?
    };
    let load_started = Instant::now();
    let load = tokio::spawn(async move { load::run(&load_options).await });

    let mut kills = Vec::new();
    for stream in ["BOOKING", VIEW_STREAM] {
        // Bookings are flowing ...
        let before = confirmed(&app).await?;
        wait_for_more(&app, before + 10, "bookings before the kill").await?;
        // ... when the stream's leader dies.
        let leader = leader_of(&js, stream).await?;
        let node = stack.nats_node_named(&leader).with_context(|| format!("{stream}'s leader {leader} is not ours"))?;
        stack.kill_nats_node(node)?;
        let killed = Instant::now();
        kills.push((stream, leader.clone(), load_started.elapsed()));
        // Bookings go on without it, under a new leader ...
        let at_kill = confirmed(&app).await?;
        wait_for_more(&app, at_kill + 5, "bookings after the kill").await?;
        let resumed = killed.elapsed();
        let new_leader = leader_of(&js, stream).await?;
        ensure!(new_leader != leader, "{stream} still led by the killed {leader}");
        // ... and the node comes back and catches up.
        stack.start_nats_node(node).await?;
        eprintln!("{stream}: leader {leader} killed; 5 more confirmations {resumed:?} later; new leader {new_leader}");
    }

    let summary = load.await.context("the load task")??;
    ensure!(summary.answered_confirmed.len() >= 60, "only {} bookings confirmed", summary.answered_confirmed.len());
    let settled = invariants::settle(stack, Duration::from_secs(60)).await?;

    // Nothing published is lost: every outbox drained, every consumer caught up.
    poll_until("every outbox to drain", Duration::from_secs(30), Duration::from_millis(100), || async {
        Ok((invariants::outbox_backlog(stack).await? == 0).then_some(()))
    })
    .await?;
    poll_until("every consumer to catch up", Duration::from_secs(30), Duration::from_millis(100), || async {
        let mut behind = Vec::new();
        for name in ["SCREENING", "SEATS", "PAYMENT", "BOOKING"] {
            let stream = js.get_stream(name).await?;
            let mut consumers = stream.consumers();
            while let Some(info) = consumers.try_next().await? {
                if info.num_pending > 0 || info.num_ack_pending > 0 {
                    behind.push(format!("{name}/{}", info.name));
                }
            }
        }
        Ok(behind.is_empty().then_some(()))
    })
    .await?;

    // Every CONFIRMED answer is CONFIRMED in the view (read from the view itself, not
    // the record it falls back to) and was notified.
    let notified = notified_confirmed(&app).await?;
    let customer = stack.customer_token("load-customer");
    let mut missing = Vec::new();
    for number in &summary.answered_confirmed {
        let view =
            app.send_as(Some(&customer), reqwest::Method::GET, &format!("/v1/bookings/{number}"), None).await?.ok()?;
        let from_view = view["revision"].as_str().and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) > 0;
        if view["status"] != "BOOKING_STATUS_CONFIRMED" || !from_view {
            missing.push(format!("{number}: view {}", view["status"]));
        }
        if !notified.contains(number) {
            missing.push(format!("{number}: not notified"));
        }
    }
    ensure!(missing.is_empty(), "answered CONFIRMED but lost:\n  {}", missing.join("\n  "));
    let report = invariants::check(stack, &invariants::Limits::default()).await?;

    let gap = summary.longest_confirmation_gap();
    eprintln!(
        "cluster failover: {} confirmed at {:.1}/s; longest gap between confirmations {gap:?}; kills at {:?}; \
         settled {settled:?} after the load; {} sagas by state {:?}, {} seats sold",
        summary.answered_confirmed.len(),
        summary.answered_confirmed.len() as f64 / summary.elapsed_secs,
        kills.iter().map(|(s, _, at)| format!("{s} @ {at:.1?}")).collect::<Vec<_>>(),
        report.sagas,
        report.by_state,
        report.sold_seats
    );
    Ok(())
}

/// The stream's leader's `server_name`, once it has one.
async fn leader_of(js: &jetstream::Context, stream: &str) -> Result<String> {
    poll_until(&format!("a leader for {stream}"), Duration::from_secs(20), Duration::from_millis(50), || async {
        let Ok(mut handle) = js.get_stream(stream).await else { return Ok(None) };
        let Ok(info) = handle.info().await else { return Ok(None) };
        Ok(info.cluster.as_ref().and_then(|c| c.leader.clone()).filter(|l| !l.is_empty()))
    })
    .await
}

/// Sagas CONFIRMED so far.
async fn confirmed(app: &TestApp) -> Result<i64> {
    app.count(Service::Orchestrator, "SELECT count(*) AS n FROM sagas WHERE state = 'CONFIRMED'").await
}

async fn wait_for_more(app: &TestApp, at_least: i64, what: &str) -> Result<()> {
    poll_until(what, Duration::from_secs(30), Duration::from_millis(50), || async {
        Ok((confirmed(app).await? >= at_least).then_some(()))
    })
    .await
}

/// Booking numbers the notification service told of their confirmation.
async fn notified_confirmed(app: &TestApp) -> Result<BTreeSet<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        booking_number: String,
    }
    let mut conn = AsyncPgConnection::establish(&app.stack.database_url(Service::Notification)).await?;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT DISTINCT booking_number FROM deliveries WHERE booking_status = 'CONFIRMED'")
            .load(&mut conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.booking_number).collect())
}
