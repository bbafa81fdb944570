//! Overload: per-screening admission control (flash sales), the gateway's rate
//! limit, and the load generator, each followed by the invariant checker where
//! bookings were made. (The server's in-flight limit is tested in mesh::server.)

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use cinema_proto::booking::v1::{BookTicketsRequest, PaymentMethod, booking_service_client::BookingServiceClient};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::screening::v1::ListMoviesRequest;
use cinema_proto::screening::v1::screening_service_client::ScreeningServiceClient;
use cinema_tests::gateway::ExtraGateway;
use cinema_tests::invariants::{self, Limits};
use cinema_tests::load::{self, Mode, Options};
use cinema_tests::{RateLimit, Service, StackOptions};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt as _;

use crate::client::TestApp;

fn request(screening_id: &str, seat: &str) -> BookTicketsRequest {
    BookTicketsRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer_id: String::new(),
        screening_id: screening_id.to_owned(),
        seat_ids: vec![seat.to_owned()],
        payment: Some(PaymentMethod { card_token: "tok_visa".into() }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Checks a refusal by admission control; returns its retry hint.
fn busy_hint(status: &tonic::Status, screening: &str) -> Result<Duration> {
    ensure!(status.code() == Code::ResourceExhausted, "{status:?}");
    ensure!(status.message().starts_with(&format!("screening {screening} is busy, retry in ")), "{status:?}");
    ensure!(status.message().ends_with(" ms"), "{status:?}");
    let info = status.get_details_error_info().context("no ErrorInfo")?;
    ensure!(info.reason == "SCREENING_BUSY", "{info:?}");
    status.get_details_retry_info().and_then(|r| r.retry_delay).context("no RetryInfo delay")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flash_sale_is_admitted_at_the_screenings_rate_with_a_retry_hint() -> Result<()> {
    // One new booking per 5 s per screening, bursts of 3.
    let options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_ADMISSION_RATE_PER_SEC", "0.2")
        .service_env(Service::Orchestrator, "CINEMA_ADMISSION_BURST", "3");
    let app = TestApp::spawn_with(options).await?;
    let movie = app.register_movie("탑건").await?;
    let movie_id = movie["movieId"].as_str().context("movieId")?;
    let (hot, cold) = (app.schedule(movie_id, 2).await?, app.schedule(movie_id, 3).await?);
    let client = BookingServiceClient::new(app.stack.gateway_channel()?);

    // Twelve buyers at once for twelve different seats: three get in.
    let calls: Vec<_> = (1..=12)
        .map(|n| {
            let (mut client, request) = (client.clone(), request(&hot, &format!("A-{n}")));
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = client.book_tickets(request.clone()).await;
                (request, answer, started.elapsed())
            })
        })
        .collect();
    let (mut admitted, mut refused) = (Vec::new(), Vec::new());
    for call in calls {
        let (request, answer, latency) = call.await?;
        match answer {
            Ok(result) => admitted.push((request, result.into_inner())),
            Err(status) => {
                let hint = busy_hint(&status, &hot)?;
                ensure!(hint > Duration::ZERO && hint <= Duration::from_secs(5), "retry hint {hint:?}");
                refused.push(latency);
            }
        }
    }
    ensure!(admitted.len() == 3, "{} admitted", admitted.len());
    ensure!(admitted.iter().all(|(_, r)| r.status == BookingStatus::Confirmed as i32), "{admitted:?}");

    // One at a time while the bucket is empty: each refusal is fast.
    let mut one_by_one = Vec::new();
    for n in 0..20 {
        let started = Instant::now();
        let status = client.clone().book_tickets(request(&hot, &format!("B-{}", n % 12 + 1))).await.unwrap_err();
        one_by_one.push(started.elapsed());
        let hint = busy_hint(&status, &hot)?;
        ensure!(hint > Duration::from_secs(1), "a token is about to come back ({hint:?}); the replay below needs none");
    }

    // A repeat of an admitted request is answered, not refused, though the bucket is empty.
    let (first, answer) = &admitted[0];
    let replay = client.clone().book_tickets(first.clone()).await.context("the replay was refused")?.into_inner();
    ensure!(&replay == answer, "replay answered differently: {replay:?} vs {answer:?}");

    // Another screening is not held back by the hot one.
    let other = client.clone().book_tickets(request(&cold, "A-1")).await.context("the cold screening")?;
    ensure!(other.into_inner().status == BookingStatus::Confirmed as i32);

    // REST clients get 429 with the service's words.
    let rest = app.book(&hot, &["C-1"], "tok_visa").await?;
    ensure!(rest.status == 429, "REST: {rest:?}");
    ensure!(rest.body.to_string().contains("is busy, retry in"), "REST body: {}", rest.body);

    invariants::settle(&app.stack, Duration::from_secs(30)).await?;
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.sagas == 4, "refused bookings left sagas behind: {report:?}");
    refused.sort();
    one_by_one.sort();
    eprintln!(
        "admission: 12 at once -> 3 admitted, 9 refused (p50 {:?}, max {:?}); 20 sequential refusals \
         through Envoy: p50 {:?}, p99 {:?}",
        percentile(&refused, 0.5),
        refused.last().context("no refusals")?,
        percentile(&one_by_one, 0.5),
        percentile(&one_by_one, 0.99),
    );
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_rate_limit_answers_429_with_a_clear_body_and_serves_the_rest() -> Result<()> {
    let app = TestApp::spawn_with(StackOptions { gateway: false, ..StackOptions::for_tests() }).await?;
    // Bursts of 5, then one call a second.
    let gateway = ExtraGateway::start(&app.stack, RateLimit::per_second(1, 5)).await?;
    let http = reqwest::Client::new();

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let request = http.get(format!("{}/v1/movies", gateway.url())).timeout(Duration::from_secs(10));
            tokio::spawn(async move {
                let response = request.send().await?;
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or("").to_owned());
                anyhow::Ok((response.status().as_u16(), retry_after, response.text().await?))
            })
        })
        .collect();
    let (mut served, mut limited) = (0, 0);
    for call in calls {
        match call.await?? {
            (200, _, body) => {
                ensure!(body.contains("movies"), "200 without movies: {body}");
                served += 1;
            }
            (429, retry_after, body) => {
                ensure!(body.starts_with("rate limited: "), "429 body: {body:?}");
                ensure!(retry_after.as_deref() == Some("1"), "retry-after: {retry_after:?}");
                limited += 1;
            }
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }
    // The burst, plus at most a token or two refilled while the calls went out.
    ensure!((5..=7).contains(&served) && served + limited == 20, "{served} served, {limited} limited");

    // gRPC callers are told RESOURCE_EXHAUSTED (back off), not UNAVAILABLE.
    let channel = tonic::transport::Endpoint::from_shared(gateway.url())?.connect_lazy();
    let mut screening = ScreeningServiceClient::new(channel);
    let mut codes = Vec::new();
    for _ in 0..5 {
        match screening.list_movies(ListMoviesRequest::default()).await {
            Ok(_) => codes.push(Code::Ok),
            Err(status) => {
                ensure!(status.message().starts_with("rate limited: "), "{status:?}");
                codes.push(status.code());
            }
        }
    }
    ensure!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    ensure!(codes.iter().all(|c| matches!(c, Code::Ok | Code::ResourceExhausted)), "{codes:?}");

    // Reflection (tooling) is not limited.
    for _ in 0..3 {
        let output = std::process::Command::new(app.stack.grpcurl_path())
            .args(["-plaintext", &format!("127.0.0.1:{}", gateway.port), "list"])
            .output()?;
        ensure!(output.status.success(), "grpcurl list: {}", String::from_utf8_lossy(&output.stderr));
    }
    eprintln!("gateway rate limit (burst 5, 1/s): 20 at once -> {served} served, {limited} answered 429");
    drop(gateway);
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_load_generator_runs_open_and_closed_loops_and_no_seat_is_sold_twice() -> Result<()> {
    let app = TestApp::spawn().await?;

    // Modest on purpose: other tests share the two cores.
    let open = Options {
        new_screenings: 2,
        settle: Duration::from_secs(30),
        ..app.stack.load_options(Mode::Open { rate: 15.0 }, Duration::from_secs(2))?
    };
    let summary = load::run(&open).await?;
    eprintln!("{}", summary.report());
    ensure!(summary.sent == 30 && summary.skipped == 0, "{summary:#?}");
    ensure!(summary.answered == summary.sent, "unanswered calls: {summary:#?}");
    ensure!(summary.by_error.is_empty(), "errors: {summary:#?}");
    ensure!(summary.by_answer.values().sum::<u64>() == summary.answered, "{summary:#?}");
    ensure!(summary.by_final_status.values().sum::<u64>() == summary.booked, "{summary:#?}");
    ensure!(!summary.by_final_status.contains_key("UNSETTLED"), "{summary:#?}");
    ensure!(summary.by_final_status.get("CONFIRMED").copied().unwrap_or_default() > 0, "{summary:#?}");
    ensure!(summary.latency_ms.count == summary.answered && summary.latency_ms.p50 > 0.0, "{summary:#?}");
    let json: serde_json::Value = serde_json::to_value(&summary)?;
    ensure!(json["latency_ms"]["p99"].is_number() && json["by_final_status"].is_object(), "{json}");

    // Closed loop on the same screenings: whatever is left is fought over.
    let closed = Options {
        screenings: summary.screenings.clone(),
        ..app.stack.load_options(Mode::Closed { clients: 2 }, Duration::from_secs(1))?
    };
    let closed = load::run(&closed).await?;
    eprintln!("{}", closed.report());
    ensure!(closed.sent > 0 && closed.answered == closed.sent && closed.by_error.is_empty(), "{closed:#?}");

    invariants::settle(&app.stack, Duration::from_secs(60)).await?;
    let report = invariants::check(&app.stack, &Limits::default()).await?;
    ensure!(report.sagas as u64 == summary.booked + closed.booked, "{report:?}");
    // Busy is not stuck: every process's loops kept beating.
    for service in Service::ALL {
        let mut health = HealthClient::new(app.stack.channel(service)?);
        let live = health.check(HealthCheckRequest { service: "liveness".into() }).await?.into_inner();
        ensure!(live.status == ServingStatus::Serving as i32, "{service} liveness: {live:?}");
    }
    let confirmed = report.by_state.get("CONFIRMED").copied().unwrap_or_default() as u64;
    ensure!(
        confirmed
            == summary.by_final_status.get("CONFIRMED").copied().unwrap_or_default()
                + closed.by_final_status.get("CONFIRMED").copied().unwrap_or_default(),
        "the generator's counts disagree with the databases: {report:?}"
    );
    app.stack.shutdown().await
}
