//! Who may do what, through Envoy: tokens checked at the edge (missing, expired, wrong
//! issuer or audience, bad signature, `alg: none`, forged identity header), owners only
//! for bookings and accounts, roles for admin and operator calls. Every refusal writes
//! nothing; the owner's own journey works over REST, gRPC and gRPC-Web.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use cinema_proto::booking::v1::booking_service_client::BookingServiceClient;
use cinema_proto::booking::v1::saga_operator_service_client::SagaOperatorServiceClient;
use cinema_proto::booking::v1::{BookTicketsRequest, CancelBookingRequest, GetSagaTimelineRequest, PaymentMethod};
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::reservation::v1::booking_view_admin_client::BookingViewAdminClient;
use cinema_proto::reservation::v1::{Booking, GetBookingRequest, RebuildViewRequest};
use cinema_proto::screening::v1::RegisterMovieRequest;
use cinema_proto::screening::v1::screening_service_client::ScreeningServiceClient;
use cinema_tests::Service;
use cinema_tests::auth::{Claims, DevIssuer};
use prost::Message as _;
use reqwest::Method;
use serde_json::json;
use tonic::Code;

use crate::client::{CUSTOMER, TestApp};

/// A JSON body for `POST /v1/bookings`.
fn booking(screening: &str, seat: &str) -> String {
    json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "screeningId": screening,
        "seatIds": [seat],
        "payment": {"cardToken": "tok_visa"},
    })
    .to_string()
}

/// Rows every refused call must have left alone.
async fn written(app: &TestApp) -> Result<[i64; 4]> {
    Ok([
        app.count(Service::Orchestrator, "SELECT count(*) AS n FROM sagas").await?,
        app.count(Service::Screening, "SELECT count(*) AS n FROM movies").await?,
        app.count(Service::Seats, "SELECT count(*) AS n FROM seats WHERE status <> 'AVAILABLE'").await?,
        app.count(Service::Loyalty, "SELECT count(*) AS n FROM partner_links").await?,
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_right_people_can_do_each_thing() -> Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("헤어질 결심").await?;
    let movie_id = movie["movieId"].as_str().context("movieId")?.to_owned();
    let screening = app.schedule(&movie_id, 2).await?;
    let kim = app.book(&screening, &["A-1"], "tok_visa").await?.ok()?;
    ensure!(kim["status"] == "BOOKING_STATUS_CONFIRMED", "{kim}");
    let number = kim["bookingNumber"].as_str().context("number")?.to_owned();
    let before = written(&app).await?;

    // Bad tokens: each refused by the gateway before any service sees the call.
    let issuer = app.stack.issuer();
    let stranger = DevIssuer::stranger()?;
    let claims = || Claims::new(CUSTOMER);
    // Envoy answers a token for another audience 403 (the token is valid, just not for
    // us); every other bad token 401.
    let (unauthenticated, forbidden) = ((401, Code::Unauthenticated), (403, Code::PermissionDenied));
    let bad_tokens = [
        ("missing", None, unauthenticated),
        ("expired", Some(issuer.sign(&claims().expired(Duration::from_secs(3600)))), unauthenticated),
        ("wrong issuer", Some(issuer.sign(&claims().issuer("https://evil.example"))), unauthenticated),
        ("wrong audience", Some(issuer.sign(&claims().audience("someone-else"))), forbidden),
        ("bad signature", Some(stranger.sign(&claims())), unauthenticated),
        ("alg none", Some(claims().unsigned()), unauthenticated),
        ("not a JWT", Some("hello".to_owned()), unauthenticated),
    ];
    let refused_rest = [
        (Method::POST, "/v1/bookings".to_owned(), Some(booking(&screening, "A-2"))),
        (Method::GET, format!("/v1/bookings/{number}"), None),
        (Method::DELETE, format!("/v1/bookings/{number}"), None),
        (Method::GET, format!("/v1/customers/{CUSTOMER}/bookings"), None),
        (Method::GET, format!("/v1/customers/{CUSTOMER}/points"), None),
        (Method::GET, format!("/v1/bookings/{number}/notifications"), None),
        (Method::POST, format!("/v1/customers/{CUSTOMER}/partner"), Some(json!({"partnerId": "p"}).to_string())),
        (Method::POST, "/v1/movies".to_owned(), Some(json!({"title": "x"}).to_string())),
    ];
    let mut matrix = Vec::new();
    for (what, token, (http_code, grpc_code)) in &bad_tokens {
        for (method, path, body) in &refused_rest {
            let answer = app.send_as(token.as_deref(), method.clone(), path, body.clone()).await?;
            ensure!(answer.status == *http_code, "{what} {method} {path}: {answer:?}");
        }
        let mut grpc = BookingQueryServiceClient::new(app.stack.gateway_channel_as(token.as_deref())?);
        let status = grpc.get_booking(GetBookingRequest { booking_number: number.clone(), min_version: 0 }).await;
        let status = status.expect_err("refused");
        ensure!(status.code() == *grpc_code, "{what} gRPC: {status:?}");
        let (http, grpc_status, _) = grpc_web(&app, token.as_deref(), &number).await?;
        ensure!(grpc_status == Some(*grpc_code as i32), "{what} gRPC-Web: HTTP {http}, {grpc_status:?}");
        let routes = refused_rest.len();
        matrix.push(format!("{what:<15} x {routes} REST routes, gRPC, gRPC-Web -> {http_code} / {grpc_code:?}"));
    }

    // Browsing needs no token (but a bad one is still refused).
    for path in [
        "/v1/movies".to_owned(),
        format!("/v1/movies/{movie_id}/screenings"),
        format!("/v1/screenings/{screening}/seats"),
    ] {
        ensure!(app.send_as(None, Method::GET, &path, None).await?.status == 200, "anonymous {path}");
        let expired = bad_tokens[1].1.as_deref();
        ensure!(app.send_as(expired, Method::GET, &path, None).await?.status == 401, "expired token on {path}");
    }
    matrix.push("anonymous x movies, screenings, seat map -> 200".to_owned());

    // A forged identity header never counts: stripped at the edge, with or without a token.
    let lee = app.stack.customer_token("lee");
    let forged_admin = cinema_mesh::identity::Identity::new("root", &[cinema_mesh::identity::Role::Admin]);
    let forged_kim = cinema_mesh::identity::Identity::customer(CUSTOMER);
    let http = reqwest::Client::new();
    let gateway = app.stack.gateway_url();
    let forge = |request: reqwest::RequestBuilder, who: &cinema_mesh::identity::Identity| {
        request.header(cinema_mesh::identity::HEADER, who.header_value())
    };
    let answer =
        forge(http.post(format!("{gateway}/v1/movies")).body(r#"{"title":"forged"}"#), &forged_admin).send().await?;
    ensure!(answer.status() == 401, "forged admin, no token: {}", answer.status());
    let answer =
        forge(http.post(format!("{gateway}/v1/movies")).bearer_auth(&lee).body(r#"{"title":"forged"}"#), &forged_admin)
            .send()
            .await?;
    ensure!(answer.status() == 403, "forged admin with a customer's token: {}", answer.status());
    let answer =
        forge(http.get(format!("{gateway}/v1/bookings/{number}")).bearer_auth(&lee), &forged_kim).send().await?;
    ensure!(answer.status() == 404, "lee forging kim's identity: {}", answer.status());
    matrix.push("forged x-cinema-identity (admin / another customer) -> ignored: 401, 403, 404".to_owned());

    // Someone else's booking is not found (REST, gRPC, gRPC-Web), their account is not theirs.
    for (method, path) in [
        (Method::GET, format!("/v1/bookings/{number}")),
        (Method::DELETE, format!("/v1/bookings/{number}")),
        (Method::GET, format!("/v1/bookings/{number}/notifications")),
    ] {
        let answer = app.send_as(Some(&lee), method.clone(), &path, None).await?;
        ensure!(answer.status == 404, "lee {method} {path}: {answer:?}");
    }
    for (method, path, body) in [
        (Method::GET, format!("/v1/customers/{CUSTOMER}/bookings"), None),
        (Method::GET, format!("/v1/customers/{CUSTOMER}/points"), None),
        (Method::POST, format!("/v1/customers/{CUSTOMER}/partner"), Some(json!({"partnerId": "okcashbag", "memberNumber": "OK-1"}).to_string())),
        (Method::DELETE, format!("/v1/customers/{CUSTOMER}/partner"), None),
        (Method::POST, "/v1/bookings".to_owned(), Some(json!({"requestId": "r-lee", "customerId": CUSTOMER, "screeningId": screening, "seatIds": ["A-3"], "payment": {"cardToken": "tok_visa"}}).to_string())),
    ] {
        let answer = app.send_as(Some(&lee), method.clone(), &path, body).await?;
        ensure!(answer.status == 403, "lee {method} {path}: {answer:?}");
    }
    let lee_channel = app.stack.gateway_channel_as(Some(&lee))?;
    let status = BookingServiceClient::new(lee_channel.clone())
        .cancel_booking(CancelBookingRequest { booking_number: number.clone(), reason: String::new() })
        .await
        .expect_err("not lee's");
    ensure!(status.code() == Code::NotFound, "{status:?}");
    let status = BookingQueryServiceClient::new(lee_channel.clone())
        .get_booking(GetBookingRequest { booking_number: number.clone(), min_version: 0 })
        .await
        .expect_err("not lee's");
    ensure!(status.code() == Code::NotFound, "{status:?}");
    let (_, grpc_status, _) = grpc_web(&app, Some(&lee), &number).await?;
    ensure!(grpc_status == Some(Code::NotFound as i32), "gRPC-Web as lee: {grpc_status:?}");
    matrix.push("customer lee x kim's booking (get, cancel, notifications; REST, gRPC, gRPC-Web) -> 404".to_owned());
    matrix.push("customer lee x kim's bookings, points, partner link, booking as kim -> 403".to_owned());

    // Roles: a customer calling admin and operator RPCs.
    let answer = app.send_as(Some(&lee), Method::POST, "/v1/movies", Some(json!({"title": "x"}).to_string())).await?;
    ensure!(answer.status == 403, "{answer:?}");
    let answer =
        app.send_as(Some(&lee), Method::POST, "/v1/screenings", Some(json!({"movieId": movie_id}).to_string())).await?;
    ensure!(answer.status == 403, "{answer:?}");
    let status = ScreeningServiceClient::new(lee_channel.clone())
        .register_movie(RegisterMovieRequest { title: "x".into(), ..Default::default() })
        .await
        .expect_err("not an admin");
    ensure!(status.code() == Code::PermissionDenied, "{status:?}");
    let status = SagaOperatorServiceClient::new(lee_channel.clone())
        .get_saga_timeline(GetSagaTimelineRequest { booking_number: number.clone() })
        .await
        .expect_err("not an operator");
    ensure!(status.code() == Code::PermissionDenied, "{status:?}");
    let admin_channel = app.stack.gateway_channel_as(Some(&app.admin_token))?;
    let status = BookingViewAdminClient::new(admin_channel)
        .rebuild_view(RebuildViewRequest { bucket: "not-for-admins".into() })
        .await
        .expect_err("admin is not operator");
    ensure!(status.code() == Code::PermissionDenied, "{status:?}");
    matrix.push("customer x RegisterMovie, ScheduleScreening, GetSagaTimeline; admin x RebuildView -> 403".to_owned());

    ensure!(written(&app).await? == before, "a refused call wrote something");

    // The owner's journey: REST above (book); gRPC and gRPC-Web read it; gRPC cancels.
    let (http_status, grpc_status, message) = grpc_web(&app, Some(&app.token), &number).await?;
    ensure!(http_status == 200 && grpc_status == Some(0), "gRPC-Web as the owner: {http_status} {grpc_status:?}");
    ensure!(Booking::decode(message.as_slice())?.booking_number == number, "gRPC-Web answered another booking");
    let mine = app.stack.gateway_channel()?;
    let booked = BookingServiceClient::new(mine.clone())
        .book_tickets(BookTicketsRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            customer_id: String::new(),
            screening_id: screening.clone(),
            seat_ids: vec!["B-1".into()],
            payment: Some(PaymentMethod { card_token: "tok_visa".into() }),
        })
        .await?
        .into_inner();
    let cancelled = BookingServiceClient::new(mine)
        .cancel_booking(CancelBookingRequest { booking_number: booked.booking_number.clone(), reason: String::new() })
        .await?
        .into_inner();
    ensure!(cancelled.status == cinema_proto::common::v1::BookingStatus::Cancelled as i32, "{cancelled:?}");
    ensure!(app.delete(&format!("/v1/bookings/{number}")).await?.status == 200, "the owner cancels over REST");
    let listed = app.get(&format!("/v1/customers/{CUSTOMER}/bookings")).await?.ok()?;
    ensure!(listed["bookings"].as_array().map(Vec::len) == Some(2), "{listed}");
    matrix.push("owner x book, read, watch, cancel, list (REST, gRPC, gRPC-Web) -> 200 / OK".to_owned());

    eprintln!("refusal matrix:\n  {}", matrix.join("\n  "));
    eprintln!("{}", jwt_latency(&app).await?);
    app.stack.shutdown().await
}

/// GetBooking over gRPC-Web (what a browser sends): HTTP status, `grpc-status`, message.
async fn grpc_web(app: &TestApp, token: Option<&str>, number: &str) -> Result<(u16, Option<i32>, Vec<u8>)> {
    let message = GetBookingRequest { booking_number: number.to_owned(), min_version: 0 }.encode_to_vec();
    let mut body = vec![0u8];
    body.extend((message.len() as u32).to_be_bytes());
    body.extend(message);
    let url = format!("{}/cinema.reservation.v1.BookingQueryService/GetBooking", app.stack.gateway_url());
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let http = response.status().as_u16();
    let header_status = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()?.parse().ok());
    let bytes = response.bytes().await?;
    // Frames: a flag byte (0x80 = trailers), a length, the payload.
    let (mut at, mut data, mut trailer_status) = (0, Vec::new(), None);
    while at + 5 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into()?) as usize;
        let payload = bytes.get(at + 5..at + 5 + len).context("a truncated gRPC-Web frame")?;
        if bytes[at] & 0x80 != 0 {
            let text = String::from_utf8_lossy(payload);
            trailer_status =
                text.lines().find_map(|l| l.strip_prefix("grpc-status:")).and_then(|v| v.trim().parse().ok());
        } else {
            data = payload.to_vec();
        }
        at += 5 + len;
    }
    Ok((http, header_status.or(trailer_status), data))
}

/// What the JWT check adds: GET /v1/movies (a browsing route, so it runs with and
/// without a token) timed both ways, sequentially.
async fn jwt_latency(app: &TestApp) -> Result<String> {
    let mut report = String::from("JWT check latency, GET /v1/movies through Envoy (debug build, sequential):");
    for (name, token) in [("anonymous", None), ("with token", Some(app.token.as_str()))] {
        let mut took = Vec::new();
        for _ in 0..200 {
            let started = Instant::now();
            let answer = app.send_as(token, Method::GET, "/v1/movies", None).await?;
            took.push(started.elapsed());
            ensure!(answer.status == 200, "{answer:?}");
        }
        took.sort();
        let at = |p: f64| took[((took.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        report += &format!("\n  {name:<10} p50 {:.2} ms  p99 {:.2} ms", at(0.5), at(0.99));
    }
    Ok(report)
}
