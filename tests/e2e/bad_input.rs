//! Bad input gets a clear 400 / NOT_FOUND through Envoy and writes nothing.

use cinema_tests::Service;
use serde_json::json;

use crate::client::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn bad_bookings_are_refused_with_reasons_and_change_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("토르").await?;
    let screening = app.schedule(movie["movieId"].as_str().unwrap(), 5).await?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let good = |seats: serde_json::Value| {
        json!({
            "requestId": uuid::Uuid::new_v4().to_string(),
            "customerId": crate::client::CUSTOMER,
            "screeningId": screening,
            "seatIds": seats,
            "payment": {"cardToken": "tok_visa"},
        })
    };

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("empty seat list", good(json!([])).to_string(), 400, "seat_ids"),
        ("malformed seat id", good(json!(["A1"])).to_string(), 400, "seat_ids"),
        ("duplicate seat", good(json!(["A-1", "A-1"])).to_string(), 400, "listed twice"),
        ("seat outside the screen", good(json!(["Z-99"])).to_string(), 400, "Z-99"),
        (
            "missing payment",
            json!({"requestId": "r", "screeningId": screening, "seatIds": ["A-1"]}).to_string(),
            400,
            "payment",
        ),
        (
            "missing request id",
            json!({"screeningId": screening, "seatIds": ["A-1"], "payment": {"cardToken": "t"}}).to_string(),
            400,
            "request_id",
        ),
        (
            "screening not a uuid",
            json!({"requestId": "r", "screeningId": "nope", "seatIds": ["A-1"], "payment": {"cardToken": "t"}})
                .to_string(),
            400,
            "screening_id",
        ),
        (
            "unknown screening",
            json!({"requestId": "r2", "screeningId": unknown, "seatIds": ["A-1"], "payment": {"cardToken": "t"}})
                .to_string(),
            404,
            "does not exist",
        ),
        ("malformed JSON", "{\"requestId\": ".to_owned(), 400, ""),
        ("wrong type", json!({"requestId": "r", "seatIds": "A-1"}).to_string(), 400, ""),
        ("unknown field", json!({"requestId": "r", "bogus": 1}).to_string(), 400, ""),
    ];
    for (name, body, status, mentions) in cases {
        let answer = app.send(reqwest::Method::POST, "/v1/bookings", Some(body)).await?;
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        assert!(answer.body.to_string().contains(mentions), "{name}: {answer:?} should mention {mentions:?}");
    }

    // Other bad input on other routes.
    let negative_price = json!({"movieId": movie["movieId"], "startsAt": "2030-01-01T10:00:00Z", "price": {"currency": "KRW", "amount": "-1"}});
    let answer = app.admin_post("/v1/screenings", negative_price).await?;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.to_string().contains("price"), "{answer:?}");
    let answer = app.admin_post("/v1/movies", json!({"title": ""})).await?;
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = app.admin_post("/v1/movies", json!({"title": "x", "runningMinutes": -5})).await?;
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = app.get("/v1/bookings/BK000000000000").await?;
    assert_eq!(answer.status, 404, "{answer:?}");
    let answer = app.delete("/v1/bookings/BK000000000000").await?;
    assert_eq!(answer.status, 404, "{answer:?}");
    let answer = app.get(&format!("/v1/screenings/{unknown}/seats")).await?;
    assert_eq!(answer.status, 404, "{answer:?}");

    // Nothing was written anywhere.
    assert_eq!(app.count(Service::Orchestrator, "SELECT count(*) AS n FROM sagas").await?, 0);
    assert_eq!(app.count(Service::Reservation, "SELECT count(*) AS n FROM reservations").await?, 0);
    assert_eq!(app.count(Service::Seats, "SELECT count(*) AS n FROM holds").await?, 0);
    assert_eq!(app.count(Service::Payment, "SELECT count(*) AS n FROM payments").await?, 0);
    assert_eq!(app.count(Service::Screening, "SELECT count(*) AS n FROM screenings").await?, 1);
    assert_eq!(app.count(Service::Seats, "SELECT count(*) AS n FROM seats WHERE status <> 'AVAILABLE'").await?, 0);
    Ok(())
}
