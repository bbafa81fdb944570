//! The real grpcurl binary against Envoy: discover the public API by
//! reflection and book with it; internal services stay unreachable.

use std::process::Command;

use crate::client::TestApp;

fn grpcurl(app: &TestApp, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = Command::new(app.stack.grpcurl_path()).arg("-plaintext").args(args).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_lists_the_public_api_and_books_through_envoy() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let gateway = app.stack.gateway_addr();

    let (ok, listed) = grpcurl(&app, &[&gateway, "list"])?;
    assert!(ok, "{listed}");
    for service in cinema_proto::PUBLIC_SERVICES {
        assert!(listed.lines().any(|l| l.trim() == *service), "{service} missing from:\n{listed}");
    }

    let movie = app.register_movie("어벤져스").await?;
    let screening = app.schedule(movie["movieId"].as_str().unwrap(), 6).await?;
    let request = serde_json::json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "screening_id": screening,
        "seat_ids": ["E-7"],
        "payment": {"card_token": "tok_visa"},
    });
    let book =
        ["-d", &request.to_string(), &gateway, "cinema.booking.v1.BookingService/BookTickets"].map(str::to_owned);
    // Without a token the gateway refuses: UNAUTHENTICATED, nothing booked.
    let (ok, refused) = grpcurl(&app, &book.iter().map(String::as_str).collect::<Vec<_>>())?;
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");
    assert_eq!(app.seat_status(&screening, "E-7").await?, "SEAT_STATUS_AVAILABLE");
    // Signed in (as the README shows): booked for the token's customer.
    let bearer = format!("authorization: Bearer {}", app.token);
    let signed_in: Vec<&str> = ["-H", bearer.as_str()].into_iter().chain(book.iter().map(String::as_str)).collect();
    let (ok, answer) = grpcurl(&app, &signed_in)?;
    assert!(ok, "{answer}");
    let booked: serde_json::Value = serde_json::from_str(&answer)?;
    assert_eq!(booked["status"], "BOOKING_STATUS_CONFIRMED", "{answer}");
    assert_eq!(app.seat_status(&screening, "E-7").await?, "SEAT_STATUS_SOLD");

    // Internal RPCs are described by reflection but not routed by the gateway.
    let release = serde_json::json!({"booking_number": booked["bookingNumber"]});
    let (ok, refused) =
        grpcurl(&app, &["-d", &release.to_string(), &gateway, "cinema.seats.v1.SeatInventoryService/ReleaseSeats"])?;
    assert!(!ok, "an internal RPC went through the gateway: {refused}");
    assert_eq!(app.seat_status(&screening, "E-7").await?, "SEAT_STATUS_SOLD");
    Ok(())
}
