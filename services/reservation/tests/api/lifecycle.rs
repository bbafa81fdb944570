use cinema_proto::common::v1::BookingStatus;
use tonic::Code;

use crate::helpers::{reason, spawn_app};

#[tokio::test]
async fn create_is_pending_and_idempotent() {
    let app = spawn_app().await;
    let first = app.create("BK-CREATE-1", "cust-1").await.unwrap();
    assert_eq!(first.status(), BookingStatus::Pending);
    assert_eq!(first.version, 1);
    assert_eq!(first.seat_ids, ["A-1", "A-2"]);
    let again = app.create("BK-CREATE-1", "cust-1").await.unwrap();
    assert_eq!(again, first);
}

#[tokio::test]
async fn create_refuses_bad_fields() {
    let app = spawn_app().await;
    let error = app.create("bk lower", "").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("booking_number"), "{}", error.message());
    assert!(error.message().contains("customer_id"), "{}", error.message());
}

#[tokio::test]
async fn confirm_then_cancel_moves_along_the_table() {
    let app = spawn_app().await;
    app.create("BK-LIFE-1", "cust-1").await.unwrap();
    let confirmed = app.confirm("BK-LIFE-1").await.unwrap();
    assert_eq!(confirmed.status(), BookingStatus::Confirmed);
    assert_eq!(confirmed.version, 2);
    assert_eq!(confirmed.payment_id, "pay-1");
    assert_eq!(confirmed.amount.as_ref().map(|m| m.amount), Some(24000));
    assert_eq!(confirmed.movie_title, "Dune");
    assert_eq!(confirmed.screen_name, "1관");
    assert_eq!(confirmed.starts_at.as_ref().map(|t| t.seconds), Some(1_800_000_000));

    // A retried confirm changes nothing.
    assert_eq!(app.confirm("BK-LIFE-1").await.unwrap(), confirmed);

    let error = app.reject("BK-LIFE-1", 0).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(reason(&error).as_deref(), Some("ILLEGAL_TRANSITION"));
    assert!(error.message().contains("CONFIRMED") && error.message().contains("REJECTED"), "{}", error.message());

    let cancelled = app.cancel("BK-LIFE-1").await.unwrap();
    assert_eq!(cancelled.status(), BookingStatus::Cancelled);
    assert_eq!(cancelled.version, 3);
    assert_eq!(cancelled.reason, "customer asked");
    assert_eq!(cancelled.payment_id, "pay-1", "confirmation fields stay");
}

#[tokio::test]
async fn reject_and_expire() {
    let app = spawn_app().await;
    app.create("BK-REJ-1", "cust-1").await.unwrap();
    let rejected = app.reject("BK-REJ-1", 0).await.unwrap();
    assert_eq!(rejected.status(), BookingStatus::Rejected);
    assert_eq!(rejected.reason, "seat A-1 is already taken");

    app.create("BK-EXP-1", "cust-1").await.unwrap();
    let expired = app.reject("BK-EXP-1", BookingStatus::Expired.into()).await.unwrap();
    assert_eq!(expired.status(), BookingStatus::Expired);

    let error = app.reject("BK-EXP-1", BookingStatus::Confirmed.into()).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    let error = app.cancel("BK-REJ-1").await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn unknown_bookings_are_not_found() {
    let app = spawn_app().await;
    for error in [app.confirm("BK-NOPE").await.unwrap_err(), app.get("BK-NOPE").await.unwrap_err()] {
        assert_eq!(error.code(), Code::NotFound);
        assert_eq!(reason(&error).as_deref(), Some("BOOKING_NOT_FOUND"));
        assert_eq!(error.message(), format!("booking {} does not exist", app.n("BK-NOPE")));
    }
}
