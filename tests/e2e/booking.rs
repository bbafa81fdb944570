//! A booking end to end through Envoy's REST routes: book, look up, cancel,
//! declined card, seat taken — and what every service recorded.

use cinema_tests::Service;

use crate::client::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn a_booking_is_confirmed_looked_up_and_cancelled() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;

    // An admin registers a movie: it comes back with its screen.
    let movie = app.register_movie("어벤져스").await?;
    assert_eq!(movie["title"], "어벤져스");
    assert_eq!(movie["status"], "MOVIE_STATUS_RUNNING");
    assert!(movie["screen"]["screenId"].as_str().is_some_and(|s| !s.is_empty()), "{movie}");
    assert_eq!(movie["screen"]["seatsPerRow"], 12);
    let movie_id = movie["movieId"].as_str().unwrap();

    // Schedules a screening: every seat AVAILABLE with its price.
    let screening = app.schedule(movie_id, 3).await?;
    let map = app.seat_map(&screening).await?;
    let seats = map["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 120);
    assert!(seats.iter().all(|s| s["status"] == "SEAT_STATUS_AVAILABLE"), "{map}");
    let price_of = |id: &str| seats.iter().find(|s| s["seatId"] == id).unwrap()["price"]["amount"].clone();
    assert_eq!(price_of("A-1"), "12000");
    assert_eq!(price_of("J-12"), "15000");
    assert_eq!(map["movieTitle"], "어벤져스");

    // A customer books A-1: CONFIRMED with a booking number, A-1 SOLD.
    let booked = app.book(&screening, &["A-1"], "tok_visa").await?.ok()?;
    assert_eq!(booked["status"], "BOOKING_STATUS_CONFIRMED", "{booked}");
    assert_eq!(booked["amount"]["amount"], "12000");
    let number = booked["bookingNumber"].as_str().unwrap().to_owned();
    assert!(number.starts_with("BK"), "{number}");
    assert_eq!(app.seat_status(&screening, "A-1").await?, "SEAT_STATUS_SOLD");

    // ... and looks it up by number.
    let found = app.lookup(&number, "BOOKING_STATUS_CONFIRMED").await?;
    assert_eq!(found["seatIds"], serde_json::json!(["A-1"]));
    assert_eq!(found["movieTitle"], "어벤져스");
    let payment_id = booked["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(payment_status(&app, &payment_id).await?, "CAPTURED");

    // Cancels: CANCELLED, refunded, A-1 free again; a second cancel answers the same.
    let cancelled = app.delete(&format!("/v1/bookings/{number}")).await?.ok()?;
    assert_eq!(cancelled["status"], "BOOKING_STATUS_CANCELLED", "{cancelled}");
    assert_eq!(payment_status(&app, &payment_id).await?, "REFUNDED");
    assert_eq!(app.seat_status(&screening, "A-1").await?, "SEAT_STATUS_AVAILABLE");
    let again = app.delete(&format!("/v1/bookings/{number}")).await?.ok()?;
    assert_eq!(again["status"], "BOOKING_STATUS_CANCELLED");
    app.lookup(&number, "BOOKING_STATUS_CANCELLED").await?;
    assert_eq!(app.count(Service::Payment, "SELECT count(*) AS n FROM payments WHERE status = 'REFUNDED'").await?, 1);

    // The saga kept its history: every step once, in order.
    let steps = app
        .count(
            Service::Orchestrator,
            &format!("SELECT count(*) AS n FROM saga_steps WHERE booking_number = '{number}'"),
        )
        .await?;
    assert_eq!(steps, 9, "5 booking steps + 4 cancel steps");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_card_or_a_taken_seat_is_rejected_and_keeps_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("아이언맨").await?;
    let screening = app.schedule(movie["movieId"].as_str().unwrap(), 4).await?;

    // A declined card: REJECTED with the reason, seats free, no capture kept.
    let declined = app.book(&screening, &["B-1", "B-2"], "tok_decline").await?.ok()?;
    assert_eq!(declined["status"], "BOOKING_STATUS_REJECTED", "{declined}");
    assert!(declined["reason"].as_str().unwrap().contains("declined"), "{declined}");
    assert_eq!(app.seat_status(&screening, "B-1").await?, "SEAT_STATUS_AVAILABLE");
    assert_eq!(app.seat_status(&screening, "B-2").await?, "SEAT_STATUS_AVAILABLE");
    assert_eq!(app.count(Service::Payment, "SELECT count(*) AS n FROM payments WHERE status = 'CAPTURED'").await?, 0);
    let number = declined["bookingNumber"].as_str().unwrap();
    app.lookup(number, "BOOKING_STATUS_REJECTED").await?;

    // A seat already sold: REJECTED (seat taken), nothing charged.
    let first = app.book(&screening, &["C-5"], "tok_visa").await?.ok()?;
    assert_eq!(first["status"], "BOOKING_STATUS_CONFIRMED", "{first}");
    let second = app.book(&screening, &["C-4", "C-5"], "tok_visa").await?.ok()?;
    assert_eq!(second["status"], "BOOKING_STATUS_REJECTED", "{second}");
    assert!(second["reason"].as_str().unwrap().contains("C-5"), "{second}");
    let loser = second["bookingNumber"].as_str().unwrap();
    assert_eq!(
        app.count(Service::Payment, &format!("SELECT count(*) AS n FROM payments WHERE booking_number = '{loser}'"))
            .await?,
        0
    );
    // The hold was all or nothing: C-4 stays free, C-5 stays sold to the winner.
    assert_eq!(app.seat_status(&screening, "C-4").await?, "SEAT_STATUS_AVAILABLE");
    assert_eq!(app.seat_status(&screening, "C-5").await?, "SEAT_STATUS_SOLD");
    // A rejected booking cannot be cancelled.
    let refused = app.delete(&format!("/v1/bookings/{loser}")).await?;
    assert_eq!(refused.status, 400, "{:?}", refused);
    Ok(())
}

async fn payment_status(app: &TestApp, payment_id: &str) -> anyhow::Result<String> {
    use cinema_proto::payment::v1::{GetPaymentRequest, PaymentStatus, payment_service_client::PaymentServiceClient};
    let mut client = PaymentServiceClient::new(app.stack.channel(Service::Payment)?);
    let payment = client.get_payment(GetPaymentRequest { payment_id: payment_id.to_owned() }).await?.into_inner();
    Ok(PaymentStatus::try_from(payment.status)?.as_str_name().trim_start_matches("PAYMENT_STATUS_").to_owned())
}
