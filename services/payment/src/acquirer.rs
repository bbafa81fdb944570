//! A simulated card acquirer, standing in for the PSP a real deployment calls.
//!
//! Like a real acquirer it is idempotent on the request's key: the first
//! answer for `(merchant_id, key)` is remembered and returned to every retry,
//! so a crash between its answer and our insert never charges twice.
//! Test cards: `tok_decline` is declined by the issuer, `tok_insufficient`
//! for lack of funds; any other non-empty token is captured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::Amount;

/// The acquirer's answer to one authorize-and-capture request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Captured { reference: String },
    Declined { reason: String },
}

#[derive(Clone)]
pub struct Acquirer {
    latency: Duration,
    /// `(merchant_id, key)` -> the first answer.
    answers: Arc<Mutex<HashMap<(String, String), Answer>>>,
}

impl Acquirer {
    pub fn new(latency: Duration) -> Self {
        Self { latency, answers: Arc::default() }
    }

    /// Authorizes and captures `amount` on the card `token`, once per key.
    pub async fn authorize_and_capture(&self, merchant_id: &str, key: &str, token: &str, amount: &Amount) -> Answer {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let answer = answers.entry((merchant_id.to_owned(), key.to_owned())).or_insert_with(|| decide(token)).clone();
        tracing::debug!(message = "Acquirer answered.", merchant_id, key, amount = amount.amount, currency = %amount.currency, ?answer);
        answer
    }
}

fn decide(token: &str) -> Answer {
    let declined = |reason: &str| Answer::Declined { reason: reason.to_owned() };
    match token {
        "" => declined("missing card token"),
        "tok_decline" => declined("card declined by issuer"),
        "tok_insufficient" => declined("insufficient funds"),
        _ => Answer::Captured { reference: format!("psp_{}", uuid::Uuid::new_v4().simple()) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krw(amount: i64) -> Amount {
        Amount::parse("KRW", amount).unwrap()
    }

    #[tokio::test]
    async fn test_cards_decline_and_others_capture() {
        let acquirer = Acquirer::new(Duration::ZERO);
        let answer = acquirer.authorize_and_capture("m", "k1", "tok_decline", &krw(1)).await;
        assert_eq!(answer, Answer::Declined { reason: "card declined by issuer".into() });
        let answer = acquirer.authorize_and_capture("m", "k2", "tok_insufficient", &krw(1)).await;
        assert_eq!(answer, Answer::Declined { reason: "insufficient funds".into() });
        let answer = acquirer.authorize_and_capture("m", "k3", "tok_visa", &krw(1)).await;
        assert!(matches!(answer, Answer::Captured { reference } if reference.starts_with("psp_")));
    }

    #[tokio::test]
    async fn the_same_key_gets_the_first_answer() {
        let acquirer = Acquirer::new(Duration::ZERO);
        let first = acquirer.authorize_and_capture("m", "B-1/charge", "tok_visa", &krw(12000)).await;
        let again = acquirer.authorize_and_capture("m", "B-1/charge", "tok_visa", &krw(12000)).await;
        assert_eq!(first, again);
        let other_merchant = acquirer.authorize_and_capture("n", "B-1/charge", "tok_visa", &krw(12000)).await;
        assert_ne!(first, other_merchant);
    }
}
