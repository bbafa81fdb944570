//! The invariant checker: reads every service's database and says what breaks
//! the promises of the booking saga.
//!
//! - no seat is sold twice: no (screening, seat) in two CONFIRMED reservations,
//!   and a SOLD seat belongs to a CONFIRMED reservation that lists it (and back);
//! - money follows bookings: per booking at most one captured charge, and
//!   captured minus refunded equals the amount of a CONFIRMED booking, else 0;
//! - the saga and the reservation agree on how every finished booking ended;
//! - no hold outlives its TTL by more than the sweep interval;
//! - every saga is terminal or still inside its deadline.
//!
//! Use [`settle`] first to wait until every saga is terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{Service, Stack, poll_until};

const TERMINAL: [&str; 4] = ["CONFIRMED", "REJECTED", "EXPIRED", "CANCELLED"];

/// The deadlines the checker holds the system to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long after its expiry a HELD hold may still exist (the sweep interval
    /// plus slack).
    pub hold_grace: Duration,
    /// How long a saga may stay unfinished.
    pub saga_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { hold_grace: Duration::from_secs(10), saga_deadline: Duration::from_secs(15 * 60 + 30) }
    }
}

/// What the checker saw (when it found nothing wrong).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub sagas: usize,
    pub by_state: BTreeMap<String, usize>,
    pub sold_seats: usize,
    pub captured_payments: usize,
    pub refunded_payments: usize,
}

#[derive(QueryableByName)]
struct Saga {
    #[diesel(sql_type = Text)]
    booking_number: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    amount: Option<i64>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Reservation {
    #[diesel(sql_type = Text)]
    booking_number: String,
    #[diesel(sql_type = Text)]
    screening_id: String,
    #[diesel(sql_type = Array<Text>)]
    seat_ids: Vec<String>,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct Seat {
    #[diesel(sql_type = Text)]
    screening_id: String,
    #[diesel(sql_type = Text)]
    seat_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    booking_number: Option<String>,
}

#[derive(QueryableByName)]
struct Hold {
    #[diesel(sql_type = Text)]
    booking_number: String,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Payment {
    #[diesel(sql_type = Text)]
    booking_number: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
}

async fn connect(stack: &Stack, service: Service) -> Result<AsyncPgConnection> {
    AsyncPgConnection::establish(&stack.database_url(service))
        .await
        .with_context(|| format!("connecting to the {service} database"))
}

/// Waits until no saga is unfinished; returns how long that took.
pub async fn settle(stack: &Stack, deadline: Duration) -> Result<Duration> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let started = std::time::Instant::now();
    poll_until("every saga to finish", deadline, Duration::from_millis(100), || async {
        let open: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM sagas WHERE state NOT IN ('CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')",
        )
        .get_result(&mut connect(stack, Service::Orchestrator).await?)
        .await?;
        Ok((open.n == 0).then_some(()))
    })
    .await?;
    Ok(started.elapsed())
}

/// Checks every invariant; the error lists every violation found.
pub async fn check(stack: &Stack, limits: &Limits) -> Result<Report> {
    let sagas: Vec<Saga> =
        diesel::sql_query("SELECT booking_number, state, amount, created_at FROM sagas ORDER BY booking_number")
            .load(&mut connect(stack, Service::Orchestrator).await?)
            .await?;
    let reservations: Vec<Reservation> = diesel::sql_query(
        "SELECT booking_number, screening_id::text AS screening_id, seat_ids, status FROM reservations",
    )
    .load(&mut connect(stack, Service::Reservation).await?)
    .await?;
    let mut seats_db = connect(stack, Service::Seats).await?;
    let sold: Vec<Seat> = diesel::sql_query(
        "SELECT screening_id::text AS screening_id, seat_id, booking_number FROM seats WHERE status = 'SOLD'",
    )
    .load(&mut seats_db)
    .await?;
    let late_holds: Vec<Hold> = diesel::sql_query(
        "SELECT booking_number, expires_at FROM holds WHERE status = 'HELD' AND expires_at < now() - $1 * interval '1 millisecond'",
    )
    .bind::<BigInt, _>(limits.hold_grace.as_millis() as i64)
    .load(&mut seats_db)
    .await?;
    let payments: Vec<Payment> = diesel::sql_query("SELECT booking_number, status, amount FROM payments")
        .load(&mut connect(stack, Service::Payment).await?)
        .await?;

    let mut violations = Vec::new();
    let now = Utc::now();
    let saga_of: BTreeMap<&str, &Saga> = sagas.iter().map(|s| (s.booking_number.as_str(), s)).collect();
    let reservation_of: BTreeMap<&str, &Reservation> =
        reservations.iter().map(|r| (r.booking_number.as_str(), r)).collect();

    // The saga and the reservation agree on how a finished booking ended.
    for saga in &sagas {
        let finished = TERMINAL.contains(&saga.state.as_str());
        if !finished {
            let age = (now - saga.created_at).to_std().unwrap_or_default();
            if age > limits.saga_deadline {
                violations.push(format!("saga {} is {} after {age:?}", saga.booking_number, saga.state));
            }
            continue;
        }
        match reservation_of.get(saga.booking_number.as_str()) {
            Some(r) if r.status == saga.state => {}
            Some(r) => violations.push(format!(
                "booking {}: the saga says {}, the reservation {}",
                saga.booking_number, saga.state, r.status
            )),
            // A saga refused before its reservation existed has none.
            None if saga.state == "REJECTED" => {}
            None => violations.push(format!("booking {} ({}) has no reservation", saga.booking_number, saga.state)),
        }
    }
    for r in &reservations {
        if !saga_of.contains_key(r.booking_number.as_str()) {
            violations.push(format!("reservation {} has no saga", r.booking_number));
        }
    }

    // No seat sold twice; SOLD seats <-> CONFIRMED reservations.
    let mut owner: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    let mut confirmed_seats = BTreeSet::new();
    for r in reservations.iter().filter(|r| r.status == "CONFIRMED") {
        for seat in &r.seat_ids {
            let key = (r.screening_id.as_str(), seat.as_str());
            if let Some(other) = owner.insert(key, &r.booking_number) {
                violations
                    .push(format!("seat {seat} of {} is sold to {other} and {}", r.screening_id, r.booking_number));
            }
            confirmed_seats.insert((r.screening_id.clone(), seat.clone(), r.booking_number.clone()));
        }
    }
    let settled = |number: &str| saga_of.get(number).is_some_and(|s| TERMINAL.contains(&s.state.as_str()));
    let sold_seats: BTreeSet<(String, String, String)> = sold
        .iter()
        .map(|s| (s.screening_id.clone(), s.seat_id.clone(), s.booking_number.clone().unwrap_or_default()))
        .collect();
    for (screening, seat, number) in sold_seats.difference(&confirmed_seats) {
        if number.is_empty() || settled(number) {
            violations.push(format!("seat {seat} of {screening} is SOLD to {number:?}, not a confirmed booking"));
        }
    }
    for (screening, seat, number) in confirmed_seats.difference(&sold_seats) {
        violations
            .push(format!("confirmed booking {number} lists seat {seat} of {screening}, which is not SOLD to it"));
    }

    // Money follows bookings.
    let mut money: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
    for p in &payments {
        let entry = money.entry(p.booking_number.as_str()).or_default();
        if p.status == "CAPTURED" || p.status == "REFUNDED" {
            entry.0 += 1;
        }
        if p.status == "CAPTURED" {
            entry.1 += p.amount;
        }
    }
    for (number, (charges, net)) in &money {
        if *charges > 1 {
            violations.push(format!("booking {number} was charged {charges} times"));
        }
        let Some(saga) = saga_of.get(number) else {
            violations.push(format!("payment for {number}, which has no saga"));
            continue;
        };
        if !TERMINAL.contains(&saga.state.as_str()) {
            continue;
        }
        let expected = if saga.state == "CONFIRMED" { saga.amount.unwrap_or_default() } else { 0 };
        if *net != expected {
            violations
                .push(format!("booking {number} is {} but keeps {net} captured (expected {expected})", saga.state));
        }
    }
    for saga in sagas.iter().filter(|s| s.state == "CONFIRMED") {
        if !money.contains_key(saga.booking_number.as_str()) {
            violations.push(format!("booking {} is CONFIRMED without a payment", saga.booking_number));
        }
    }

    // Holds do not outlive their TTL.
    for hold in &late_holds {
        violations.push(format!("hold of {} expired at {} and is still HELD", hold.booking_number, hold.expires_at));
    }

    if !violations.is_empty() {
        anyhow::bail!("{} invariant violation(s):\n  {}", violations.len(), violations.join("\n  "));
    }
    let mut by_state = BTreeMap::new();
    for saga in &sagas {
        *by_state.entry(saga.state.clone()).or_default() += 1;
    }
    Ok(Report {
        sagas: sagas.len(),
        by_state,
        sold_seats: sold.len(),
        captured_payments: payments.iter().filter(|p| p.status == "CAPTURED").count(),
        refunded_payments: payments.iter().filter(|p| p.status == "REFUNDED").count(),
    })
}

/// Unpublished outbox rows of the services whose events drive the others.
pub async fn outbox_backlog(stack: &Stack) -> Result<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut total = 0;
    for service in [Service::Screening, Service::Reservation, Service::Seats, Service::Payment] {
        let mut conn = connect(stack, service).await?;
        let count: Count = diesel::sql_query("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            .get_result(&mut conn)
            .await
            .with_context(|| format!("the {service} outbox"))?;
        total += count.n;
    }
    Ok(total)
}
