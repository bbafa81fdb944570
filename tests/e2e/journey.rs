//! One booking and its cancellation, seen the way a customer and the third
//! parties see them, all through Envoy: the booking view at every step (REST
//! lookups and a WatchBooking stream), one notification per change on each
//! channel (local HTTP servers stand in for the KakaoTalk API and a webhook
//! receiver), points granted then revoked, and the partner told of both.
//! Then the view is rebuilt from the streams and compared with the live one.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_proto::common::v1::BookingStatus;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use cinema_proto::reservation::v1::booking_view_admin_client::BookingViewAdminClient;
use cinema_testkit::fake_http::FakeServer;
use cinema_tests::{Service, StackOptions, poll_until};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::client::TestApp;

const WEBHOOK_SECRET: &str = "e2e-webhook-secret-0123456789";
const CUSTOMER: &str = "customer-1";

/// The statuses a customer is told about, in order, for a booking that waited
/// for seats, was confirmed, then cancelled.
const STATUSES: [&str; 4] = ["PENDING", "CONFIRMED", "CANCELLING", "CANCELLED"];

#[tokio::test(flavor = "multi_thread")]
async fn one_booking_and_its_cancellation_seen_by_the_customer_the_channels_and_the_partner() -> Result<()> {
    let kakao = FakeServer::start("/v2/alimtalk/send").await;
    let webhook = FakeServer::start("/hooks/cinema").await;
    let partner = FakeServer::start("/v1/accruals").await;
    let options = StackOptions::for_tests()
        .service_env(Service::Orchestrator, "CINEMA_INLINE_DEADLINE_MS", "300")
        .service_env(Service::Orchestrator, "CINEMA_BACKOFF_CAP_MS", "300")
        .service_env(Service::Notification, "CINEMA_CHANNELS", "[log,kakao,webhook]")
        .service_env(Service::Notification, "CINEMA_KAKAO__URL", &kakao.url)
        .service_env(Service::Notification, "CINEMA_KAKAO__SENDER_KEY", "sk-e2e")
        .service_env(Service::Notification, "CINEMA_WEBHOOK__URL", &webhook.url)
        .service_env(Service::Notification, "CINEMA_WEBHOOK__SECRET", WEBHOOK_SECRET)
        .service_env(Service::Loyalty, "CINEMA_PARTNER__ID", "okcashbag")
        .service_env(Service::Loyalty, "CINEMA_PARTNER__URL", &partner.url)
        .service_env(Service::Loyalty, "CINEMA_PARTNER__RETRY_BASE_MS", "50");
    let app = TestApp::spawn_with(options).await?;
    let movie = app.register_movie("어벤져스").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 3).await?;
    let link = json!({"partnerId": "okcashbag", "memberNumber": "OK-1234"});
    app.post(&format!("/v1/customers/{CUSTOMER}/partner"), link).await?.ok()?;

    // Seat management is down: the booking is accepted as PENDING.
    app.stack.stop(Service::Seats)?;
    let booked = app.book(&screening, &["A-1"], "tok_visa").await?.ok()?;
    ensure!(booked["status"] == "BOOKING_STATUS_PENDING", "{booked}");
    let number = booked["bookingNumber"].as_str().context("booking number")?.to_owned();
    let pending = app.lookup(&number, "BOOKING_STATUS_PENDING").await?;
    let unset = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.ends_with("_UNSPECIFIED"));
    ensure!(unset(&pending["seatsStatus"]) && unset(&pending["paymentStatus"]), "nothing held or paid yet: {pending}");

    // The customer watches it, through Envoy, from here to the end.
    let mut queries = BookingQueryServiceClient::new(app.stack.gateway_channel()?);
    let request = pb::WatchBookingRequest { booking_number: number.clone() };
    let mut watch = queries.watch_booking(request).await?.into_inner();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(booking) = watch.message().await? {
            seen.push(booking);
        }
        anyhow::Ok(seen)
    });

    // Seats return: the saga completes, and the view shows it all.
    app.stack.restart(Service::Seats).await?;
    let confirmed = app.lookup(&number, "BOOKING_STATUS_CONFIRMED").await?;
    let confirmed = poll_until(
        "the view to show the sold seats and the payment",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            let found = app.lookup(&number, "BOOKING_STATUS_CONFIRMED").await?;
            Ok((found["seatsStatus"] == "SEATS_STATUS_SOLD" && found["paymentStatus"] == "PAYMENT_STATUS_CAPTURED")
                .then_some(found))
        },
    )
    .await
    .with_context(|| format!("last: {confirmed}"))?;
    ensure!(confirmed["movieTitle"] == "어벤져스" && confirmed["seatIds"] == json!(["A-1"]), "{confirmed}");
    ensure!(
        confirmed["amount"]["amount"] == "12000" && !confirmed["paymentId"].as_str().unwrap_or("").is_empty(),
        "{confirmed}"
    );
    ensure!(confirmed["revision"].as_str().is_some_and(|r| r != "0"), "read from the view: {confirmed}");
    let points =
        poll_until("600 points (5 % of 12,000)", Duration::from_secs(5), Duration::from_millis(20), || async {
            let points = app.get(&format!("/v1/customers/{CUSTOMER}/points")).await?.ok()?;
            Ok((points["balance"] == "600").then_some(points))
        })
        .await?;
    ensure!(points["partner"]["memberNumber"] == "OK-1234", "{points}");

    // Cancelled: refunded, seats released, points revoked.
    let cancelled = app.delete(&format!("/v1/bookings/{number}")).await?.ok()?;
    ensure!(cancelled["status"] == "BOOKING_STATUS_CANCELLED", "{cancelled}");
    let answered = std::time::Instant::now();
    app.lookup(&number, "BOOKING_STATUS_CANCELLED").await?;
    eprintln!("view lag: the lookup read CANCELLED {:?} after the cancel answered", answered.elapsed());
    let found = poll_until(
        "the view to show the refund and the released seats",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            let found = app.lookup(&number, "BOOKING_STATUS_CANCELLED").await?;
            Ok((found["seatsStatus"] == "SEATS_STATUS_RELEASED" && found["paymentStatus"] == "PAYMENT_STATUS_REFUNDED")
                .then_some(found))
        },
    )
    .await?;
    ensure!(found["version"] == "4", "pending, confirmed, cancelling, cancelled: {found}");
    let waited = app.get(&format!("/v1/bookings/{number}?minVersion=4")).await?.ok()?;
    ensure!(waited["version"] == "4" && waited["status"] == "BOOKING_STATUS_CANCELLED", "{waited}");
    let points = poll_until("the points revoked", Duration::from_secs(5), Duration::from_millis(20), || async {
        let points = app.get(&format!("/v1/customers/{CUSTOMER}/points")).await?.ok()?;
        Ok((points["balance"] == "0" && points["history"].as_array().is_some_and(|h| h.len() == 2)).then_some(points))
    })
    .await?;
    let history: Vec<&str> =
        points["history"].as_array().into_iter().flatten().filter_map(|e| e["points"].as_str()).collect();
    ensure!(history == ["-600", "600"], "newest first: {points}");

    // The watch saw every status in order, and ended at CANCELLED.
    let seen = tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .context("the watch ends at a final status")???;
    let mut statuses: Vec<BookingStatus> = seen.iter().map(|b| b.status()).collect();
    statuses.dedup();
    let expected =
        [BookingStatus::Pending, BookingStatus::Confirmed, BookingStatus::Cancelling, BookingStatus::Cancelled];
    ensure!(statuses == expected, "watched {statuses:?}");
    ensure!(seen.windows(2).all(|w| w[0].revision < w[1].revision), "every message is a newer view");
    let last = seen.last().context("a last message")?;
    ensure!(last.status() == BookingStatus::Cancelled && last.version == 4, "{last:?}");
    ensure!(seen.iter().any(|b| b.seats_status() == pb::SeatsStatus::Sold), "the watch saw the seats sold");

    // One notification per change on each channel, with the right text.
    let notifications =
        poll_until("4 changes x 3 channels delivered", Duration::from_secs(10), Duration::from_millis(50), || async {
            let list = app.get(&format!("/v1/bookings/{number}/notifications")).await?.ok()?;
            let all = list["notifications"].as_array().cloned().unwrap_or_default();
            let delivered = all.iter().filter(|n| n["status"] == "DELIVERY_STATUS_DELIVERED").count();
            Ok((delivered == 12).then_some(all))
        })
        .await?;
    let mut by_channel: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in &notifications {
        let status = n["bookingStatus"].as_str().unwrap_or_default().trim_start_matches("BOOKING_STATUS_").to_owned();
        by_channel.entry(n["channel"].as_str().unwrap_or_default().to_owned()).or_default().push(status);
    }
    for channel in ["log", "kakao", "webhook"] {
        let mut statuses = by_channel.get(channel).cloned().unwrap_or_default();
        statuses.sort_by_key(|s| STATUSES.iter().position(|x| x == s));
        ensure!(statuses == STATUSES, "{channel}: {statuses:?}");
    }

    let sent = kakao.requests();
    ensure!(sent.len() == 4, "one Alimtalk per change: {}", sent.len());
    let texts: Vec<String> =
        sent.iter().map(|r| r.json()["recipientList"][0]["content"].as_str().unwrap_or("").to_owned()).collect();
    let confirmed_text = texts.iter().find(|t| t.contains("예매가 완료되었습니다")).context("a confirmation text")?;
    ensure!(
        confirmed_text.starts_with("[cinema] 어벤져스")
            && confirmed_text.contains("A-1")
            && confirmed_text.contains(&number),
        "{confirmed_text}"
    );
    ensure!(sent.iter().all(|r| r.json()["senderKey"] == "sk-e2e"), "sender key");
    ensure!(sent.iter().any(|r| r.json()["templateCode"] == "CINEMA_BOOKING_CANCELLED"), "template codes");

    let hooks = webhook.requests();
    ensure!(hooks.len() == 4, "one webhook per change: {}", hooks.len());
    for hook in &hooks {
        let timestamp = hook.header("x-cinema-timestamp");
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes())?;
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(&hook.body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        ensure!(hook.header("x-cinema-signature") == format!("sha256={expected}"), "signature of {}", hook.json());
    }
    let mut hooked: Vec<String> = hooks.iter().map(|h| h.json()["status"].as_str().unwrap_or("").to_owned()).collect();
    hooked.sort_by_key(|s| STATUSES.iter().position(|x| x == s));
    ensure!(hooked == STATUSES, "{hooked:?}");

    // The partner applied the accrual and the revocation, once each.
    let told = poll_until("the partner told twice", Duration::from_secs(10), Duration::from_millis(20), || async {
        let kinds: BTreeMap<String, Value> =
            partner.requests().iter().map(|r| (r.header("idempotency-key").to_owned(), r.json())).collect();
        Ok((kinds.len() == 2).then_some(kinds))
    })
    .await?;
    let mut kinds: Vec<(String, i64)> = told
        .values()
        .map(|b| (b["kind"].as_str().unwrap_or("").to_owned(), b["points"].as_i64().unwrap_or(0)))
        .collect();
    kinds.sort();
    ensure!(kinds == [("ACCRUAL".to_owned(), 600), ("REVOCATION".to_owned(), -600)], "{kinds:?}");
    ensure!(
        told.values().all(|b| b["member_number"] == "OK-1234" && b["booking_number"] == number.as_str()),
        "{told:?}"
    );

    // The view rebuilt from the streams equals the live one (an operator, through the gateway).
    let mut admin =
        BookingViewAdminClient::new(app.stack.gateway_channel_as(Some(&app.stack.operator_token("ops-kim")))?);
    let rebuilt =
        admin.rebuild_view(pb::RebuildViewRequest { bucket: "booking-view-rebuilt".into() }).await?.into_inner();
    ensure!(rebuilt.bookings == 1 && rebuilt.entries_changed == 1, "{rebuilt:?}");
    let js = async_nats::jetstream::new(async_nats::connect(app.stack.nats_url()).await?);
    let live = js.get_key_value("booking-view").await?.get(&number).await?.context("live entry")?;
    let again = js.get_key_value("booking-view-rebuilt").await?.get(&number).await?.context("rebuilt entry")?;
    ensure!(
        serde_json::from_slice::<Value>(&live)? == serde_json::from_slice::<Value>(&again)?,
        "rebuilt view differs"
    );
    let into_live = admin.rebuild_view(pb::RebuildViewRequest { bucket: String::new() }).await?.into_inner();
    ensure!(into_live.entries_changed == 0, "the live view already agreed: {into_live:?}");

    app.stack.shutdown().await
}

/// The projector's durable consumers (the live bucket's name, then the stream).
const PROJECTOR: [(&str, &str); 3] =
    [("BOOKING", "booking-view-booking"), ("PAYMENT", "booking-view-payment"), ("SEATS", "booking-view-seats")];

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_stream_changes_no_view_and_poison_is_dead_lettered_without_blocking() -> Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("기생충").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 2).await?;
    let kept = app.book(&screening, &["B-1"], "tok_visa").await?.ok()?;
    let dropped = app.book(&screening, &["B-2", "B-3"], "tok_visa").await?.ok()?;
    let (kept, dropped) =
        (kept["bookingNumber"].as_str().context("number")?, dropped["bookingNumber"].as_str().context("number")?);
    app.delete(&format!("/v1/bookings/{dropped}")).await?.ok()?;
    let js = async_nats::jetstream::new(async_nats::connect(app.stack.nats_url()).await?);
    settled(&js).await?;
    app.lookup(kept, "BOOKING_STATUS_CONFIRMED").await?;
    app.lookup(dropped, "BOOKING_STATUS_CANCELLED").await?;
    let view = js.get_key_value("booking-view").await?;
    let before = revisions(&view, &[kept, dropped]).await?;

    // Replay: drop the projector's consumers; they come back from the start of
    // every stream and read it all again.
    for (stream, durable) in PROJECTOR {
        js.get_stream(stream).await?.delete_consumer(durable).await?;
    }
    let replayed = settled(&js).await?;
    ensure!(replayed >= 10, "the projector read the streams again ({replayed} deliveries)");
    ensure!(revisions(&view, &[kept, dropped]).await? == before, "a replay rewrote a view");

    // Poison: a message that is not an envelope, and an envelope whose payload
    // does not decode. Both go to DEADLETTER at once; the next booking flows.
    let subject = cinema_proto::topics::BOOKING_STATUS_CHANGED.subject;
    js.publish(subject, "not protobuf at all".into()).await?.await?;
    let garbage = cinema_proto::events::v1::Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: cinema_proto::topics::BOOKING_STATUS_CHANGED.event_type.into(),
        occurred_at: Some(std::time::SystemTime::now().into()),
        payload: vec![0xff; 7],
        ..Default::default()
    };
    js.publish(subject, prost::Message::encode_to_vec(&garbage).into()).await?.await?;
    let next = app.book(&screening, &["B-4"], "tok_visa").await?.ok()?;
    app.lookup(next["bookingNumber"].as_str().context("number")?, "BOOKING_STATUS_CONFIRMED").await?;

    let letters = poll_until(
        "both poison messages dead-lettered by the projector",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let letters = dead_letters(&js, "booking-view-booking").await?;
            Ok((letters.len() == 2).then_some(letters))
        },
    )
    .await?;
    ensure!(letters.iter().any(|e| e.contains("not an envelope")), "{letters:?}");
    ensure!(
        letters.iter().any(|e| e.starts_with("poison: payload of cinema.events.v1.BookingStatusChanged")),
        "{letters:?}"
    );
    app.stack.shutdown().await
}

/// Waits until the projector has nothing pending or unacknowledged; returns
/// how many messages its consumers have delivered.
async fn settled(js: &async_nats::jetstream::Context) -> Result<u64> {
    poll_until("the projector to catch up", Duration::from_secs(15), Duration::from_millis(50), || async {
        let mut delivered = 0;
        for (stream, durable) in PROJECTOR {
            let Ok(mut consumer) = js
                .get_stream(stream)
                .await?
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
                .await
            else {
                return Ok(None);
            };
            let info = consumer.info().await?;
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                return Ok(None);
            }
            delivered += info.delivered.stream_sequence;
        }
        Ok(Some(delivered))
    })
    .await
}

async fn revisions(view: &async_nats::jetstream::kv::Store, numbers: &[&str]) -> Result<Vec<u64>> {
    let mut revisions = Vec::new();
    for number in numbers {
        revisions.push(view.entry(*number).await?.with_context(|| format!("no view of {number}"))?.revision);
    }
    Ok(revisions)
}

/// The `Cinema-Error` of every dead letter `durable` wrote.
async fn dead_letters(js: &async_nats::jetstream::Context, durable: &str) -> Result<Vec<String>> {
    let Ok(mut stream) = js.get_stream("DEADLETTER").await else { return Ok(Vec::new()) };
    let last = stream.info().await?.state.last_sequence;
    let mut errors = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await?;
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
        if message.subject.as_str() == cinema_proto::topics::dead_letter_subject(durable) {
            ensure!(
                header("Cinema-Consumer") == durable && header("Cinema-Subject").starts_with("cinema.booking."),
                "headers of a dead letter"
            );
            errors.push(header("Cinema-Error"));
        }
    }
    Ok(errors)
}
