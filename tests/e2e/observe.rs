//! One booking, one trace; metrics that move. A real OTLP trace receiver (a
//! tonic server implementing the OTLP TraceService) collects what every
//! service exports; the Prometheus endpoints are scraped before and after.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_testkit::fake_http::FakeServer;
use cinema_tests::{Service, StackOptions, free_port, poll_until};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

use crate::client::TestApp;

/// One span as received.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("not poisoned");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(AnyValue::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent: span.parent_span_id,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// Every span's parent is among `spans` (roots aside).
fn connected(spans: &[Received]) -> bool {
    let ids: BTreeSet<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
    spans.iter().all(|s| s.parent.is_empty() || ids.contains(s.parent.as_slice()))
}

/// A [`Receiver`] served on a free port for as long as it lives.
struct Collector {
    receiver: Receiver,
    serving: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

impl std::ops::Deref for Collector {
    type Target = Receiver;

    fn deref(&self) -> &Receiver {
        &self.receiver
    }
}

impl Collector {
    /// Serves OTLP on a free port and points every service of `options` at it
    /// (batches sent every 100 ms).
    fn start(options: &mut StackOptions) -> Result<Self> {
        let receiver = Receiver::default();
        let port = free_port()?;
        let server = tonic::transport::Server::builder().add_service(TraceServiceServer::new(receiver.clone()));
        let serving = tokio::spawn(server.serve(([127, 0, 0, 1], port).into()));
        options.env.push(("CINEMA_OTLP_ENDPOINT".into(), format!("http://127.0.0.1:{port}")));
        options.env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
        Ok(Self { receiver, serving })
    }

    /// The first BookTickets span, once exported.
    async fn book_tickets(&self) -> Result<Received> {
        poll_until("the BookTickets span", Duration::from_secs(15), Duration::from_millis(50), || async {
            let spans = self.spans.lock().expect("not poisoned").clone();
            Ok(spans.into_iter().find(|s| s.name == "cinema.booking.v1.BookingService/BookTickets"))
        })
        .await
    }

    /// Every span received so far of the trace `trace_id`.
    fn trace(&self, trace_id: &[u8]) -> Vec<Received> {
        self.spans.lock().expect("not poisoned").iter().filter(|s| s.trace_id == trace_id).cloned().collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bookings_spans_share_one_trace_and_form_one_tree_across_services_and_events() -> Result<()> {
    let webhook = FakeServer::start("/hooks/cinema").await;
    let partner = FakeServer::start("/v1/accruals").await;
    let mut options = StackOptions::for_tests()
        .service_env(Service::Notification, "CINEMA_CHANNELS", "[log,webhook]")
        .service_env(Service::Notification, "CINEMA_WEBHOOK__URL", &webhook.url)
        .service_env(Service::Notification, "CINEMA_WEBHOOK__SECRET", "observe-webhook-secret-0123")
        .service_env(Service::Loyalty, "CINEMA_PARTNER__ID", "okcashbag")
        .service_env(Service::Loyalty, "CINEMA_PARTNER__URL", &partner.url);
    let receiver = Collector::start(&mut options)?;
    let app = TestApp::spawn_with(options).await?;
    let movie = app.register_movie("괴물").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 2).await?;
    let link = serde_json::json!({"partnerId": "okcashbag", "memberNumber": "OK-77"});
    app.post("/v1/customers/customer-1/partner", link).await?.ok()?;
    let booked = app.book(&screening, &["C-3"], "tok_visa").await?.ok()?;
    ensure!(booked["status"] == "BOOKING_STATUS_CONFIRMED", "{booked}");

    // The trace starts where the booking entered the system.
    let root = receiver.book_tickets().await?;
    ensure!(root.service == "cinema-orchestrator", "{root:?}");
    ensure!(root.parent.is_empty(), "BookTickets has no parent: {root:?}");

    // Every service it touched, including the event consumers, joins that trace,
    // and every span's parent is in it: one connected tree.
    let services = ["orchestrator", "seats", "payment", "reservation", "notification", "loyalty"];
    let trace = poll_until("the whole tree", Duration::from_secs(20), Duration::from_millis(100), || async {
        let spans = receiver.trace(&root.trace_id);
        let seen: BTreeSet<&str> = spans.iter().map(|s| s.service.trim_start_matches("cinema-")).collect();
        let consumers = spans.iter().filter(|s| s.name.ends_with(" process")).count();
        let calls_out = ["notify webhook", "partner accrual"].iter().all(|n| spans.iter().any(|s| s.name == *n));
        let complete = services.iter().all(|s| seen.contains(s)) && connected(&spans) && consumers >= 3 && calls_out;
        Ok(complete.then_some(spans))
    })
    .await
    .with_context(|| {
        let mut by_service: HashMap<String, Vec<String>> = HashMap::new();
        for s in receiver.trace(&root.trace_id) {
            by_service.entry(s.service).or_default().push(s.name);
        }
        format!("spans of the trace so far: {by_service:#?}")
    })?;
    let roots = trace.iter().filter(|s| s.parent.is_empty()).count();
    ensure!(roots == 1, "{roots} roots");
    let names: BTreeSet<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "cinema.seats.v1.SeatInventoryService/HoldSeats",
        "cinema.payment.v1.PaymentService/Charge",
        "cinema.reservation.v1.ReservationService/ConfirmReservation",
        "cinema.booking.status_changed process",
    ] {
        ensure!(names.contains(expected), "no {expected} in {names:?}");
    }
    // The third parties were called inside the trace: their requests carry it.
    let trace_id: String = root.trace_id.iter().map(|b| format!("{b:02x}")).collect();
    for (who, server) in [("webhook", &webhook), ("partner", &partner)] {
        let requests = server.requests();
        ensure!(!requests.is_empty(), "{who} was called");
        for request in &requests {
            let traceparent = request.header("traceparent");
            ensure!(traceparent.split('-').nth(1) == Some(trace_id.as_str()), "{who}: traceparent {traceparent:?}");
        }
    }
    eprintln!("one trace: {} spans from {} services, one root", trace.len(), services.len());
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saga_finished_in_the_background_continues_the_bookings_trace() -> Result<()> {
    let mut options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_INLINE_DEADLINE_MS", "300")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "300");
    let receiver = Collector::start(&mut options)?;
    let app = TestApp::spawn_with(options).await?;
    let movie = app.register_movie("마더").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 2).await?;

    // Seats are down: the answer is PENDING; the background runner finishes later.
    app.stack.stop(Service::Seats)?;
    let booked = app.book(&screening, &["E-5"], "tok_visa").await?.ok()?;
    ensure!(booked["status"] == "BOOKING_STATUS_PENDING", "{booked}");
    app.stack.restart(Service::Seats).await?;
    app.lookup(booked["bookingNumber"].as_str().context("number")?, "BOOKING_STATUS_CONFIRMED").await?;

    let root = receiver.book_tickets().await?;
    poll_until(
        "the resumed saga's spans in the booking's trace",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let spans = receiver.trace(&root.trace_id);
            let resumed = spans.iter().any(|s| s.name == "saga resume" && s.service == "cinema-orchestrator");
            let sold = spans
                .iter()
                .any(|s| s.name == "cinema.seats.v1.SeatInventoryService/ConfirmSeats" && s.service == "cinema-seats");
            Ok((connected(&spans) && resumed && sold).then_some(()))
        },
    )
    .await?;
    app.stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_endpoints_show_a_booking_go_through() -> Result<()> {
    let mut options = StackOptions::for_tests();
    let mut ports = HashMap::new();
    for service in
        [Service::Orchestrator, Service::Reservation, Service::Notification, Service::Payment, Service::Seats]
    {
        let port = free_port()?;
        ports.insert(service, port);
        options = options.service_env(service, "CINEMA_METRICS_ADDR", &format!("127.0.0.1:{port}"));
    }
    let app = TestApp::spawn_with(options).await?;
    let scrape = |service: Service| {
        let url = format!("http://127.0.0.1:{}/metrics", ports[&service]);
        async move { anyhow::Ok(reqwest::get(&url).await?.error_for_status()?.text().await?) }
    };
    let book_ok = [("method", "/cinema.booking.v1.BookingService/BookTickets"), ("code", "OK")];
    let before = value(&scrape(Service::Orchestrator).await?, "cinema_rpc_requests_total", &book_ok);
    let published_before = value(&scrape(Service::Reservation).await?, "cinema_outbox_published_total", &[]);
    let handled_before =
        value(&scrape(Service::Notification).await?, "cinema_events_handled_total", &[("outcome", "ok")]);

    let movie = app.register_movie("올드보이").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 2).await?;
    app.book(&screening, &["D-1"], "tok_visa").await?.ok()?;
    let refused = app.book(&screening, &["D-1"], "tok_visa").await?.ok()?;
    ensure!(refused["status"] == "BOOKING_STATUS_REJECTED", "{refused}");

    let orchestrator = scrape(Service::Orchestrator).await?;
    ensure!(
        value(&orchestrator, "cinema_rpc_requests_total", &book_ok) == before + 2.0,
        "two BookTickets:\n{orchestrator}"
    );
    ensure!(value(&orchestrator, "cinema_rpc_duration_seconds_count", &book_ok[..1]) >= 2.0, "{orchestrator}");
    ensure!(orchestrator.contains("service=\"orchestrator\""), "series carry the service label");
    let charged = [("step", "charge"), ("outcome", "done")];
    ensure!(value(&orchestrator, "cinema_saga_steps_total", &charged) == 1.0, "one charge step:\n{orchestrator}");
    ensure!(
        value(&orchestrator, "cinema_saga_step_duration_seconds_count", &[("step", "hold-seats")]) == 2.0,
        "{orchestrator}"
    );
    ensure!(value(&orchestrator, "cinema_breaker_state", &[("breaker", "payment")]) == 0.0, "closed");
    ensure!(orchestrator.contains("cinema_breaker_state{"), "the breaker's gauge is there");
    poll_until("the sagas gauge to be sampled", Duration::from_secs(10), Duration::from_millis(100), || async {
        Ok(scrape(Service::Orchestrator).await?.contains("cinema_sagas{").then_some(()))
    })
    .await?;
    poll_until("the active holds gauge", Duration::from_secs(15), Duration::from_millis(100), || async {
        Ok(scrape(Service::Seats).await?.contains("cinema_active_holds").then_some(()))
    })
    .await?;
    let payment = scrape(Service::Payment).await?;
    ensure!(
        value(&payment, "cinema_rpc_requests_total", &[("method", "/cinema.payment.v1.PaymentService/Charge")]) == 1.0,
        "{payment}"
    );
    // Events: published by the reservation's relay, handled by the notification consumer.
    poll_until(
        "the events to be published and handled",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let published = value(&scrape(Service::Reservation).await?, "cinema_outbox_published_total", &[]);
            let notification = scrape(Service::Notification).await?;
            let handled = value(&notification, "cinema_events_handled_total", &[("outcome", "ok")]);
            let lag = value(&notification, "cinema_consumer_lag_seconds_count", &[]);
            // PENDING + CONFIRMED, and PENDING + REJECTED.
            Ok((published >= published_before + 4.0 && handled >= handled_before + 4.0 && lag >= 4.0).then_some(()))
        },
    )
    .await?;
    app.stack.shutdown().await
}

/// The sum of the samples of `name` whose labels include `labels`.
fn value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, sample) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| sample.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}
