use cinema_proto::payment::v1::PaymentStatus;
use tonic::Code;

use crate::helpers::{reason, spawn_app};

#[tokio::test]
async fn a_captured_payment_is_refunded_once() {
    let app = spawn_app().await;
    let payment = app.charge("BK-1/charge", "tok_visa").await.unwrap();
    let refunded = app.refund("BK-1/refund", &payment.payment_id).await.unwrap();
    assert_eq!(refunded.status(), PaymentStatus::Refunded);
    assert_eq!(refunded.provider_reference, payment.provider_reference);
    // Whatever the key, a refunded payment is answered as it is.
    assert_eq!(app.refund("BK-1/refund", &payment.payment_id).await.unwrap(), refunded);
    assert_eq!(app.refund("another-key", &payment.payment_id).await.unwrap(), refunded);
}

#[tokio::test]
async fn a_declined_payment_has_nothing_to_refund() {
    let app = spawn_app().await;
    let payment = app.charge("BK-2/charge", "tok_decline").await.unwrap();
    let error = app.refund("BK-2/refund", &payment.payment_id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(reason(&error).as_deref(), Some("NOT_CAPTURED"));
}

#[tokio::test]
async fn unknown_payments_are_not_found() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for error in [app.refund("k", &unknown).await.unwrap_err(), app.get(&unknown).await.unwrap_err()] {
        assert_eq!(error.code(), Code::NotFound);
        assert_eq!(reason(&error).as_deref(), Some("PAYMENT_NOT_FOUND"));
    }
    assert_eq!(app.get("not-a-uuid").await.unwrap_err().code(), Code::InvalidArgument);
}
