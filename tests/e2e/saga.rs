//! The booking saga under concurrency, duplicates, crashes and a lost replica,
//! each followed by the invariant checker (`cinema_tests::invariants`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use cinema_mesh::identity::Identity;
use cinema_proto::booking::v1::{
    BookTicketsRequest, BookingResult, CancelBookingRequest, PaymentMethod,
    booking_service_client::BookingServiceClient,
};
use cinema_proto::common::v1::BookingStatus;
use cinema_tests::auth::AuthChannel;
use cinema_tests::invariants::{self, Limits};
use cinema_tests::{Service, StackOptions, poll_until};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::client::TestApp;

fn request(screening_id: &str, seats: &[String], request_id: &str) -> BookTicketsRequest {
    BookTicketsRequest {
        request_id: request_id.to_owned(),
        // The booking's customer is the channel's signed-in one.
        customer_id: String::new(),
        screening_id: screening_id.to_owned(),
        seat_ids: seats.to_vec(),
        payment: Some(PaymentMethod { card_token: "tok_visa".into() }),
    }
}

async fn book(channel: AuthChannel, request: BookTicketsRequest) -> Result<BookingResult, tonic::Status> {
    BookingServiceClient::new(channel).book_tickets(request).await.map(tonic::Response::into_inner)
}

/// Who books when a test calls the orchestrator straight (as the gateway would forward).
fn customer() -> Identity {
    Identity::customer(crate::client::CUSTOMER)
}

/// A movie with one screening whose seat map is ready; returns the screening id.
async fn screening(app: &TestApp, title: &str) -> Result<String> {
    let movie = app.register_movie(title).await?;
    app.schedule(movie["movieId"].as_str().context("movieId")?, 2).await
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    value: String,
}

/// One text column of a query on a service's database.
async fn texts(app: &TestApp, service: Service, sql: &str) -> Result<Vec<String>> {
    let mut conn = AsyncPgConnection::establish(&app.stack.database_url(service)).await?;
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).await.with_context(|| sql.to_owned())?;
    Ok(rows.into_iter().map(|r| r.value).collect())
}

async fn saga_state(app: &TestApp, booking_number: &str) -> Result<String> {
    let sql = format!("SELECT state AS value FROM sagas WHERE booking_number = '{booking_number}'");
    texts(app, Service::Orchestrator, &sql).await?.pop().context("no such saga")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_bookings_never_sell_a_seat_twice() -> Result<()> {
    let app = TestApp::spawn().await?;
    let screening = screening(&app, "범죄도시").await?;
    let gateway = app.stack.gateway_channel()?;

    // 50 clients race for A-1; 150 want two adjacent seats among rows B-F (60 seats).
    let mut wants: Vec<Vec<String>> = vec![vec!["A-1".to_owned()]; 50];
    let mut seed: u64 = 0x5eed;
    for _ in 0..150 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let row = (b'B' + (seed >> 33) as u8 % 5) as char;
        let n = 1 + (seed >> 40) % 11;
        wants.push(vec![format!("{row}-{n}"), format!("{row}-{}", n + 1)]);
    }
    let started = Instant::now();
    let calls: Vec<_> = wants
        .iter()
        .map(|seats| {
            let (channel, request) = (gateway.clone(), request(&screening, seats, &uuid::Uuid::new_v4().to_string()));
            tokio::spawn(async move {
                let t = Instant::now();
                (book(channel, request).await, t.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut latencies = Vec::new();
    for call in calls {
        let (answer, latency) = call.await?;
        answers.push(answer.map_err(|s| anyhow::anyhow!("BookTickets failed: {s:?}"))?);
        latencies.push(latency);
    }
    let answered = started.elapsed();
    let settled = invariants::settle(&app.stack, Duration::from_secs(60)).await?;
    latencies.sort();

    // Exactly one winner for A-1; every loser rejected because the seat is taken.
    let mut a1_winners = 0;
    for answer in &answers[..50] {
        match saga_state(&app, &answer.booking_number).await?.as_str() {
            "CONFIRMED" => a1_winners += 1,
            "REJECTED" => {}
            other => anyhow::bail!("{} ended {other}", answer.booking_number),
        }
    }
    ensure!(a1_winners == 1, "{a1_winners} bookings won A-1");
    let rejected_reasons =
        texts(&app, Service::Orchestrator, "SELECT reason AS value FROM sagas WHERE state = 'REJECTED'").await?;
    ensure!(rejected_reasons.iter().all(|r| r.contains("taken")), "unexpected reasons: {rejected_reasons:?}");

    // No seat sold twice, every loser's money untouched or refunded, nothing held.
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    let confirmed = report.by_state.get("CONFIRMED").copied().unwrap_or_default();
    ensure!(report.sagas == 200, "{report:?}");
    ensure!(report.captured_payments == confirmed, "{report:?}");
    let distinct: BTreeSet<&String> = wants.iter().flatten().collect();
    ensure!(confirmed >= 2 && report.sold_seats <= distinct.len(), "{report:?}");
    eprintln!(
        "200 concurrent bookings: answered in {answered:?}, all terminal {settled:?} later; \
         p50 {:?}, p99 {:?}, max {:?}; {report:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_duplicate_requests_make_one_booking_and_ten_identical_answers() -> Result<()> {
    let app = TestApp::spawn().await?;
    let screening = screening(&app, "기생충").await?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let seats = vec!["E-5".to_owned(), "E-6".to_owned()];
    let calls: Vec<_> = (0..10)
        .map(|_| tokio::spawn(book(app.stack.gateway_channel().unwrap(), request(&screening, &seats, &request_id))))
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await?.map_err(|s| anyhow::anyhow!("BookTickets failed: {s:?}"))?);
    }
    ensure!(answers[0].status == BookingStatus::Confirmed as i32, "{:?}", answers[0]);
    ensure!(answers.iter().all(|a| a == &answers[0]), "answers differ: {answers:#?}");
    let sagas = texts(&app, Service::Orchestrator, "SELECT booking_number AS value FROM sagas").await?;
    ensure!(sagas == [answers[0].booking_number.clone()], "{sagas:?}");
    let charges = texts(&app, Service::Payment, "SELECT payment_id::text AS value FROM payments").await?;
    ensure!(charges.len() == 1, "{charges:?}");
    invariants::check(&app.stack, &Limits::default()).await?;
    app.stack.shutdown().await
}

/// Waits until the orchestrator's log says it hangs at its failpoint for the
/// booking of `request_id`; returns the booking number.
async fn wait_for_failpoint(app: &TestApp, request_id: &str) -> Result<String> {
    let sql = format!("SELECT booking_number AS value FROM sagas WHERE request_id = '{request_id}'");
    let number = poll_until("the saga row", Duration::from_secs(20), Duration::from_millis(20), || async {
        Ok(texts(app, Service::Orchestrator, &sql).await?.pop())
    })
    .await?;
    wait_for_failpoint_of(app, &number).await?;
    Ok(number)
}

async fn wait_for_failpoint_of(app: &TestApp, booking_number: &str) -> Result<()> {
    let log = app.stack.log_path(Service::Orchestrator);
    poll_until("the failpoint", Duration::from_secs(20), Duration::from_millis(20), || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Ok(text.lines().any(|l| l.contains("Failpoint reached") && l.contains(booking_number)).then_some(()))
    })
    .await
}

/// kill -9 the orchestrator, start it without the failpoint, and wait until
/// the saga is terminal; returns its state and the time from kill to done.
async fn kill_and_recover(app: &TestApp, booking_number: &str) -> Result<(String, Duration)> {
    app.stack.kill(Service::Orchestrator)?;
    let killed = Instant::now();
    app.stack.set_env(Service::Orchestrator, "CINEMA_FAILPOINT", "")?;
    app.stack.restart(Service::Orchestrator).await?;
    let state = poll_until("the saga to finish", Duration::from_secs(30), Duration::from_millis(20), || async {
        let state = saga_state(app, booking_number).await?;
        Ok(["CONFIRMED", "REJECTED", "EXPIRED", "CANCELLED"].contains(&state.as_str()).then_some(state))
    })
    .await?;
    Ok((state, killed.elapsed()))
}

async fn arm(app: &TestApp, failpoint: &str) -> Result<()> {
    app.stack.set_env(Service::Orchestrator, "CINEMA_FAILPOINT", failpoint)?;
    app.stack.restart(Service::Orchestrator).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_orchestrator_finishes_every_saga_without_charging_twice() -> Result<()> {
    let options = StackOptions::for_tests().service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", "1");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "헤어질 결심").await?;
    let orchestrator = app.stack.channel_as(Service::Orchestrator, &customer())?;
    let mut recoveries = Vec::new();

    // Killed at every boundary of the booking steps, and mid-step (the
    // participant acted, the orchestrator did not record it).
    let points = [
        "after:CREATING_RESERVATION",
        "before:HOLDING_SEATS",
        "after:HOLDING_SEATS",
        "before:CHARGING",
        "after:CHARGING",
        "before:CONFIRMING_SEATS",
        "after:CONFIRMING_SEATS",
        "before:CONFIRMING_RESERVATION",
        "after:CONFIRMING_RESERVATION",
    ];
    for (i, point) in points.into_iter().enumerate() {
        arm(&app, point).await?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let seat = vec![format!("C-{}", i + 1)];
        let call = tokio::spawn(book(orchestrator.clone(), request(&screening, &seat, &request_id)));
        let number = wait_for_failpoint(&app, &request_id).await.with_context(|| point.to_owned())?;
        let (state, took) = kill_and_recover(&app, &number).await?;
        call.abort();
        ensure!(state == "CONFIRMED", "{point}: {number} ended {state}");
        recoveries.push((point, took));
    }

    // Killed inside a cancellation: after marking it, after the refund, before the release.
    let cancel_points = ["after:MARKING_CANCELLING", "after:CANCEL_REFUNDING", "before:CANCEL_RELEASING"];
    for (i, point) in cancel_points.into_iter().enumerate() {
        arm(&app, "").await?;
        let seat = vec![format!("D-{}", i + 1)];
        let booked = book(orchestrator.clone(), request(&screening, &seat, &uuid::Uuid::new_v4().to_string())).await?;
        ensure!(booked.status == BookingStatus::Confirmed as i32, "{booked:?}");
        arm(&app, point).await?;
        let cancel = CancelBookingRequest { booking_number: booked.booking_number.clone(), reason: String::new() };
        let mut client = BookingServiceClient::new(orchestrator.clone());
        let call = tokio::spawn(async move { client.cancel_booking(cancel).await });
        wait_for_failpoint_of(&app, &booked.booking_number).await.with_context(|| point.to_owned())?;
        if point != "after:MARKING_CANCELLING" {
            // The customer sees the cancellation under way.
            app.lookup(&booked.booking_number, "BOOKING_STATUS_CANCELLING").await.context(point)?;
        }
        let (state, took) = kill_and_recover(&app, &booked.booking_number).await?;
        call.abort();
        ensure!(state == "CANCELLED", "{point}: {} ended {state}", booked.booking_number);
        recoveries.push((point, took));
    }

    // One charge per booking, refunds for the cancelled, no seat held or sold twice.
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.captured_payments == 9 && report.refunded_payments == 3, "{report:?}");
    ensure!(report.sold_seats == 9, "{report:?}");
    eprintln!("recovery after kill -9 (kill -> terminal, incl. restart): {recoveries:?}");
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_replica_finishes_the_sagas_of_a_killed_one() -> Result<()> {
    let options = StackOptions::for_tests().service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", "2").service_env(
        Service::Payment,
        "CINEMA_ACQUIRER_LATENCY_MS",
        "300",
    );
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "올드보이").await?;
    let replica = app.stack.add_replica(Service::Orchestrator, &[]).await?;
    let first = app.stack.channel_as(Service::Orchestrator, &customer())?;
    let second = tonic::service::interceptor::InterceptedService::new(
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{replica}"))?.connect_lazy(),
        cinema_tests::auth::Caller::forwarded(&customer())?,
    );
    let first_pid = app.stack.pid(Service::Orchestrator).context("orchestrator pid")?;

    // 24 bookings on each replica, each its own seat.
    let mut calls = Vec::new();
    for (i, channel) in [first, second].into_iter().enumerate() {
        for n in 1..=12 {
            for row in ["F", "G"] {
                let row = if i == 0 { row.to_owned() } else { (if row == "F" { "H" } else { "I" }).to_owned() };
                let request = request(&screening, &[format!("{row}-{n}")], &uuid::Uuid::new_v4().to_string());
                calls.push(tokio::spawn(book(channel.clone(), request)));
            }
        }
    }
    // Kill the first replica while it drives sagas of its own.
    let in_flight_sql = format!(
        "SELECT DISTINCT s.booking_number AS value FROM sagas s JOIN saga_steps t USING (booking_number) \
         WHERE t.runner LIKE '%/{first_pid}' AND s.state NOT IN ('CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')"
    );
    let orphans =
        poll_until("the first replica to be busy", Duration::from_secs(30), Duration::from_millis(10), || async {
            let open = texts(&app, Service::Orchestrator, &in_flight_sql).await?;
            Ok((open.len() >= 3).then_some(open))
        })
        .await?;
    app.stack.kill(Service::Orchestrator)?;
    let killed = Instant::now();
    let settled = invariants::settle(&app.stack, Duration::from_secs(60)).await?;
    // A request the killed replica never answered may not have been stored:
    // the client saw an error and may retry. Every answered one must finish.
    let mut answered = Vec::new();
    for call in calls {
        if let Ok(result) = call.await? {
            answered.push(result.booking_number);
        }
    }

    // Every saga finished, CONFIRMED; the orphans were finished by the survivor.
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.sagas >= answered.len() && answered.len() >= 24, "{report:?}, {} answered", answered.len());
    ensure!(report.by_state.get("CONFIRMED") == Some(&report.sagas), "{report:?}");
    ensure!(report.captured_payments == report.sagas, "{report:?}");
    for number in &answered {
        ensure!(saga_state(&app, number).await? == "CONFIRMED", "{number} not CONFIRMED");
    }
    for number in &orphans {
        let sql = format!(
            "SELECT runner AS value FROM saga_steps WHERE booking_number = '{number}' ORDER BY id DESC LIMIT 1"
        );
        let last = texts(&app, Service::Orchestrator, &sql).await?.pop().unwrap_or_default();
        ensure!(!last.ends_with(&format!("/{first_pid}")), "{number} was last run by the killed replica");
    }
    eprintln!(
        "replica takeover: {} sagas orphaned by kill -9, all {} terminal {settled:?} after the kill ({:?})",
        orphans.len(),
        report.sagas,
        killed.elapsed()
    );
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_holds_are_released_and_never_paid_for() -> Result<()> {
    use cinema_proto::seats::v1::{
        ConfirmSeatsRequest, HoldSeatsRequest, seat_inventory_service_client::SeatInventoryServiceClient,
    };
    let options = StackOptions::for_tests()
        .service_env(Service::Seats, "CINEMA_HOLD_TTL_SECS", "1")
        .service_env(Service::Seats, "CINEMA_HOLD_SWEEP_INTERVAL_MS", "200")
        .service_env(Service::Orchestrator, "CINEMA_LEASE_SECS", "1")
        .service_env(Service::Orchestrator, "CINEMA_FAILPOINT", "before:CHARGING");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "괴물").await?;
    let hold_status = |number: String| {
        let app = &app;
        async move {
            let sql = format!("SELECT status AS value FROM holds WHERE booking_number = '{number}'");
            Ok::<_, anyhow::Error>(texts(app, Service::Seats, &sql).await?.pop().unwrap_or_default())
        }
    };
    let swept = |number: &str| {
        let number = number.to_owned();
        poll_until("the sweeper", Duration::from_secs(10), Duration::from_millis(50), move || {
            let number = number.clone();
            async move { Ok((hold_status(number).await? == "EXPIRED").then_some(())) }
        })
    };

    // The orchestrator stalls before charging; the hold expires and is swept.
    let request_id = uuid::Uuid::new_v4().to_string();
    let orchestrator = app.stack.channel_as(Service::Orchestrator, &customer())?;
    let call = tokio::spawn(book(orchestrator, request(&screening, &["A-3".to_owned()], &request_id)));
    let number = wait_for_failpoint(&app, &request_id).await?;
    swept(&number).await?;
    ensure!(app.seat_status(&screening, "A-3").await? == "SEAT_STATUS_AVAILABLE");
    // Back, it does not charge for seats it no longer holds: EXPIRED, no payment.
    let (state, _) = kill_and_recover(&app, &number).await?;
    call.abort();
    ensure!(state == "EXPIRED", "{number} ended {state}");
    app.lookup(&number, "BOOKING_STATUS_EXPIRED").await?;
    let reason = texts(
        &app,
        Service::Orchestrator,
        &format!("SELECT reason AS value FROM sagas WHERE booking_number = '{number}'"),
    )
    .await?;
    ensure!(reason[0].contains("hold expired"), "{reason:?}");
    ensure!(texts(&app, Service::Payment, "SELECT payment_id::text AS value FROM payments").await?.is_empty());

    // Confirming an expired hold takes the seat back when it is still free ...
    let mut seats = SeatInventoryServiceClient::new(app.stack.channel(Service::Seats)?);
    let hold = |number: &str, seat: &str| HoldSeatsRequest {
        booking_number: number.to_owned(),
        screening_id: screening.clone(),
        seat_ids: vec![seat.to_owned()],
    };
    seats.hold_seats(hold("BKTTLFREE0001", "A-5")).await?;
    swept("BKTTLFREE0001").await?;
    seats.confirm_seats(ConfirmSeatsRequest { booking_number: "BKTTLFREE0001".into() }).await?;
    ensure!(app.seat_status(&screening, "A-5").await? == "SEAT_STATUS_SOLD");
    // ... and fails cleanly, naming the seat, when someone else took it.
    seats.hold_seats(hold("BKTTLLOST0001", "A-6")).await?;
    swept("BKTTLLOST0001").await?;
    seats.hold_seats(hold("BKTTLTAKE0001", "A-6")).await?;
    seats.confirm_seats(ConfirmSeatsRequest { booking_number: "BKTTLTAKE0001".into() }).await?;
    let lost = seats.confirm_seats(ConfirmSeatsRequest { booking_number: "BKTTLLOST0001".into() }).await.unwrap_err();
    ensure!(lost.code() == tonic::Code::FailedPrecondition && lost.message().contains("A-6"), "{lost:?}");

    // A saga that paid, then stalled until its hold expired and the seat was
    // taken: the payment is refunded and the booking REJECTED, naming the seat.
    arm(&app, "before:CONFIRMING_SEATS").await?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let orchestrator = app.stack.channel_as(Service::Orchestrator, &customer())?;
    let call = tokio::spawn(book(orchestrator, request(&screening, &["A-7".to_owned()], &request_id)));
    let number = wait_for_failpoint(&app, &request_id).await?;
    swept(&number).await?;
    // Sold, not just held: a hold of the 1 s TTL would expire again before the restart.
    seats.hold_seats(hold("BKTTLTAKE0002", "A-7")).await?;
    seats.confirm_seats(ConfirmSeatsRequest { booking_number: "BKTTLTAKE0002".into() }).await?;
    let (state, _) = kill_and_recover(&app, &number).await?;
    call.abort();
    ensure!(state == "REJECTED", "{number} ended {state}");
    let sql = format!("SELECT reason AS value FROM sagas WHERE booking_number = '{number}'");
    let reason = texts(&app, Service::Orchestrator, &sql).await?;
    ensure!(reason[0].contains("A-7"), "{reason:?}");
    let sql = format!("SELECT status AS value FROM payments WHERE booking_number = '{number}'");
    ensure!(texts(&app, Service::Payment, &sql).await? == ["REFUNDED"]);
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn payment_down_answers_awaiting_payment_at_once_then_confirms_or_expires() -> Result<()> {
    let options = StackOptions::for_tests()
        .service_env(Service::Seats, "CINEMA_HOLD_TTL_SECS", "6")
        .service_env(Service::Seats, "CINEMA_HOLD_SWEEP_INTERVAL_MS", "200")
        .service_env(Service::Orchestrator, "CINEMA_PAYMENT_BREAKER_FAILURES", "3")
        .service_env(Service::Orchestrator, "CINEMA_PAYMENT_BREAKER_OPEN_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "500");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "택시운전사").await?;
    let gateway = app.stack.gateway_channel()?;
    app.stack.stop(Service::Payment)?;

    // Every booking answers at once: AWAITING_PAYMENT, seats held, until when, why.
    let mut latencies = Vec::new();
    let mut numbers = Vec::new();
    for n in 1..=12 {
        let started = Instant::now();
        let seats = [format!("B-{n}")];
        let answer = book(gateway.clone(), request(&screening, &seats, &uuid::Uuid::new_v4().to_string())).await?;
        latencies.push(started.elapsed());
        ensure!(answer.status == BookingStatus::AwaitingPayment as i32, "{answer:?}");
        ensure!(answer.hold_expires_at.is_some() && answer.reason.contains("retried automatically"), "{answer:?}");
        ensure!(app.seat_status(&screening, &seats[0]).await? == "SEAT_STATUS_HELD");
        numbers.push(answer.booking_number);
    }
    app.lookup(&numbers[0], "BOOKING_STATUS_AWAITING_PAYMENT").await?;
    let first = latencies[0];
    let mut sorted = latencies[3..].to_vec();
    sorted.sort();

    // Payment returns: every booking is CONFIRMED, charged once.
    let back = Instant::now();
    app.stack.restart(Service::Payment).await?;
    invariants::settle(&app.stack, Duration::from_secs(30)).await?;
    let recovered = back.elapsed();
    for number in &numbers {
        ensure!(saga_state(&app, number).await? == "CONFIRMED", "{number}");
    }
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.captured_payments == 12, "{report:?}");

    // Payment down until the hold expires: EXPIRED, seat free, nothing charged.
    app.stack.stop(Service::Payment)?;
    let answer = book(gateway.clone(), request(&screening, &["C-1".into()], &uuid::Uuid::new_v4().to_string())).await?;
    ensure!(answer.status == BookingStatus::AwaitingPayment as i32, "{answer:?}");
    invariants::settle(&app.stack, Duration::from_secs(20)).await?;
    ensure!(saga_state(&app, &answer.booking_number).await? == "EXPIRED");
    app.lookup(&answer.booking_number, "BOOKING_STATUS_EXPIRED").await?;
    ensure!(app.seat_status(&screening, "C-1").await? == "SEAT_STATUS_AVAILABLE");
    app.stack.restart(Service::Payment).await?;
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.by_state.get("EXPIRED") == Some(&1) && report.captured_payments == 12, "{report:?}");
    eprintln!(
        "payment down: first answer {first:?}; with the breaker open p50 {:?}, p99 {:?}; \
         all 12 CONFIRMED {recovered:?} after payment was restarted",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
    );
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn bookings_are_accepted_while_seats_and_screening_are_down() -> Result<()> {
    let options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_INLINE_DEADLINE_MS", "500")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "500");
    let app = TestApp::spawn_with(options).await?;
    let screening = screening(&app, "살인의 추억").await?;
    app.stack.stop(Service::Seats)?;
    app.stack.stop(Service::Screening)?;

    // Accepted and PENDING while seats cannot answer.
    let gateway = app.stack.gateway_channel()?;
    let answer = book(gateway, request(&screening, &["D-4".into()], &uuid::Uuid::new_v4().to_string())).await?;
    ensure!(answer.status == BookingStatus::Pending as i32, "{answer:?}");
    app.lookup(&answer.booking_number, "BOOKING_STATUS_PENDING").await?;

    // Seats come back (screening stays down): the booking completes.
    let back = Instant::now();
    app.stack.restart(Service::Seats).await?;
    invariants::settle(&app.stack, Duration::from_secs(30)).await?;
    ensure!(saga_state(&app, &answer.booking_number).await? == "CONFIRMED");
    ensure!(app.seat_status(&screening, "D-4").await? == "SEAT_STATUS_SOLD");
    invariants::check(&app.stack, &Limits::default()).await?;
    eprintln!("seats down: PENDING, then CONFIRMED {:?} after seats were restarted", back.elapsed());
    app.stack.shutdown().await
}
