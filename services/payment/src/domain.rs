//! Payment rules, parsed at the edge. No I/O.

/// The caller's idempotency key for one operation: 1 to 200 characters.
#[derive(Clone, Debug)]
pub struct Key(String);

impl Key {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw.chars().count() {
            0 => Err("is required"),
            1..=200 => Ok(Self(raw.to_owned())),
            _ => Err("must be at most 200 characters"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A positive amount in an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    pub currency: String,
    pub amount: i64,
}

impl Amount {
    pub fn parse(currency: &str, amount: i64) -> Result<Self, &'static str> {
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err("currency must be an ISO 4217 code like KRW");
        }
        if amount <= 0 {
            return Err("amount must be positive");
        }
        Ok(Self { currency: currency.to_owned(), amount })
    }
}

/// What to charge, checked.
#[derive(Clone, Debug)]
pub struct Charge {
    pub key: Key,
    pub booking_number: String,
    pub customer_id: String,
    pub amount: Amount,
    pub card_token: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    Captured,
    Declined,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captured => "CAPTURED",
            Self::Declined => "DECLINED",
            Self::Refunded => "REFUNDED",
        }
    }

    /// The column has a CHECK constraint; anything else reads as declined.
    pub fn from_db(raw: &str) -> Self {
        match raw {
            "CAPTURED" => Self::Captured,
            "REFUNDED" => Self::Refunded,
            _ => Self::Declined,
        }
    }
}

/// What a refund request does to a payment in `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refund {
    /// Captured: refund it.
    Apply,
    /// Already refunded: answer with it unchanged.
    AlreadyRefunded,
    /// Declined: nothing was taken, nothing to give back.
    NotCaptured,
}

pub fn refund(status: PaymentStatus) -> Refund {
    match status {
        PaymentStatus::Captured => Refund::Apply,
        PaymentStatus::Refunded => Refund::AlreadyRefunded,
        PaymentStatus::Declined => Refund::NotCaptured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded() {
        assert_eq!(Key::parse("B-1/charge").unwrap().as_str(), "B-1/charge");
        assert!(Key::parse("").is_err());
        assert!(Key::parse(&"k".repeat(200)).is_ok());
        assert!(Key::parse(&"k".repeat(201)).is_err());
    }

    #[test]
    fn amounts_are_positive_iso_amounts() {
        assert_eq!(Amount::parse("KRW", 12000).unwrap(), Amount { currency: "KRW".into(), amount: 12000 });
        assert!(Amount::parse("KRW", 0).is_err());
        assert!(Amount::parse("KRW", -5).is_err());
        assert!(Amount::parse("", 1).is_err());
        assert!(Amount::parse("krw", 1).is_err());
        assert!(Amount::parse("KRWX", 1).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [PaymentStatus::Captured, PaymentStatus::Declined, PaymentStatus::Refunded] {
            assert_eq!(PaymentStatus::from_db(s.as_str()), s);
        }
    }

    #[test]
    fn only_captured_payments_are_refunded() {
        let table = [
            (PaymentStatus::Captured, Refund::Apply),
            (PaymentStatus::Refunded, Refund::AlreadyRefunded),
            (PaymentStatus::Declined, Refund::NotCaptured),
        ];
        for (status, expected) in table {
            assert_eq!(refund(status), expected, "{status:?}");
        }
    }
}
