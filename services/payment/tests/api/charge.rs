use cinema_proto::payment::v1::{ChargeRequest, PaymentStatus};
use tonic::Code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_good_card_is_captured_once_per_key() {
    let app = spawn_app().await;
    let first = app.charge("BK-1/charge", "tok_visa").await.unwrap();
    assert_eq!(first.status(), PaymentStatus::Captured);
    assert!(first.provider_reference.starts_with("psp_"), "{}", first.provider_reference);
    assert_eq!(first.amount.as_ref().map(|m| m.amount), Some(24000));
    assert_eq!(app.charge("BK-1/charge", "tok_visa").await.unwrap(), first);
    assert_eq!(app.get(&first.payment_id).await.unwrap(), first);
}

#[tokio::test]
async fn concurrent_duplicates_get_the_first_payment() {
    let app = spawn_app().await;
    let charges = (0..8).map(|_| app.charge("BK-2/charge", "tok_visa"));
    let payments = futures::future::try_join_all(charges).await.unwrap();
    assert!(payments.iter().all(|p| p == &payments[0]), "{payments:#?}");
}

#[tokio::test]
async fn a_declined_card_is_an_answer() {
    let app = spawn_app().await;
    let declined = app.charge("BK-3/charge", "tok_decline").await.unwrap();
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert_eq!(declined.decline_reason, "card declined by issuer");
    let poor = app.charge("BK-4/charge", "tok_insufficient").await.unwrap();
    assert_eq!(poor.decline_reason, "insufficient funds");
}

#[tokio::test]
async fn bad_requests_list_every_field() {
    let app = spawn_app().await;
    let error = app.payments.clone().charge(ChargeRequest::default()).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    for field in ["idempotency_key", "booking_number", "customer_id", "amount", "card_token"] {
        assert!(error.message().contains(field), "{field}: {}", error.message());
    }
}
