//! BookingService: who may book and cancel.

use cinema_mesh::identity::Identity;
use cinema_proto::booking::v1 as pb;
use tonic::Code;

use crate::helpers::{reason, spawn_app};

fn book_request(customer_id: &str) -> pb::BookTicketsRequest {
    pb::BookTicketsRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer_id: customer_id.into(),
        screening_id: uuid::Uuid::new_v4().to_string(),
        seat_ids: vec!["A-1".into()],
        payment: Some(pb::PaymentMethod { card_token: "tok_visa".into() }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_customer_is_the_signed_in_one() {
    let app = spawn_app(|_| {}).await;

    // No identity (a caller that bypassed the gateway): refused.
    let status = app.bookings.clone().book_tickets(book_request("kim")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    // Booking for someone else: refused.
    let status = app.bookings.clone().book_tickets(Identity::customer("lee").request(book_request("kim"))).await;
    let status = status.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_deref()), (Code::PermissionDenied, Some("NOT_YOURS")));

    // `customer_id` may be left out: the booking is the signed-in customer's.
    let booked = app.bookings.clone().book_tickets(Identity::customer("kim").request(book_request(""))).await;
    let number = booked.expect("accepted").into_inner().booking_number;
    let timeline = app.timeline(&number).await.expect("the saga exists");
    assert_eq!(timeline.booking_number, number);

    // Someone else cancelling it: not found, as if the number did not exist.
    let cancel = || pb::CancelBookingRequest { booking_number: number.clone(), reason: String::new() };
    let status = app.bookings.clone().cancel_booking(Identity::customer("lee").request(cancel())).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_deref()), (Code::NotFound, Some("BOOKING_NOT_FOUND")));
    let status = app.bookings.clone().cancel_booking(cancel()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // The owner gets the real answer (it is not confirmed yet).
    let status = app.bookings.clone().cancel_booking(Identity::customer("kim").request(cancel())).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_deref()), (Code::FailedPrecondition, Some("NOT_CANCELLABLE")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_request_is_the_same_booking_even_when_new_ones_are_refused() {
    // One booking per screening, then none for a long while.
    let app = spawn_app(|config| {
        config.admission_rate_per_sec = 0.001;
        config.admission_burst = 1;
    })
    .await;
    let book = |request: &pb::BookTicketsRequest| {
        let mut bookings = app.bookings.clone();
        let request = Identity::customer("kim").request(request.clone());
        async move { bookings.book_tickets(request).await }
    };
    let first = book_request("kim");
    let number = book(&first).await.expect("admitted").into_inner().booking_number;

    // A new booking for the screening is refused...
    let other = pb::BookTicketsRequest { request_id: uuid::Uuid::new_v4().to_string(), ..first.clone() };
    assert_eq!(book(&other).await.unwrap_err().code(), Code::ResourceExhausted);
    // ...but the first request, repeated, is answered with its booking.
    let again = book(&first).await.expect("a repeat is not a new booking").into_inner();
    assert_eq!(again.booking_number, number);
    // The same request id for other seats is refused, and why.
    let reused = pb::BookTicketsRequest { seat_ids: vec!["B-2".into()], ..first.clone() };
    let status = book(&reused).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_deref()), (Code::AlreadyExists, Some("REQUEST_ID_REUSED")));
    let timeline = app.timeline(&number).await.expect("the saga exists");
    assert_eq!(timeline.booking_number, number);
}
