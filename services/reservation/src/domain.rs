//! Reservation rules, parsed at the edge. No I/O.

use chrono::{DateTime, Utc};
use cinema_proto::common::v1::BookingStatus;

/// A booking's status; it moves only along [`transition`]'s table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    AwaitingPayment,
    Confirmed,
    Rejected,
    Expired,
    Cancelling,
    Cancelled,
}

impl Status {
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::AwaitingPayment,
        Self::Confirmed,
        Self::Rejected,
        Self::Expired,
        Self::Cancelling,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::AwaitingPayment => "AWAITING_PAYMENT",
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Expired => "EXPIRED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The column has a CHECK constraint; anything else reads as pending.
    pub fn from_db(raw: &str) -> Self {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).unwrap_or(Self::Pending)
    }

    /// `None` for UNSPECIFIED (or a value this build does not know).
    pub fn from_proto(status: BookingStatus) -> Option<Self> {
        Self::ALL.into_iter().find(|s| BookingStatus::from(*s) == status)
    }

    /// Nothing happens to the booking after this (a watch ends here).
    /// CONFIRMED is not final: it can still be cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Rejected | Self::Expired | Self::Cancelled)
    }
}

impl From<Status> for BookingStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => Self::Pending,
            Status::AwaitingPayment => Self::AwaitingPayment,
            Status::Confirmed => Self::Confirmed,
            Status::Rejected => Self::Rejected,
            Status::Expired => Self::Expired,
            Status::Cancelling => Self::Cancelling,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

/// What a requested status change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Legal: change the status, bump the version, emit the event.
    Apply,
    /// The booking is already there: answer with it unchanged (a retry).
    AlreadyThere,
    Illegal,
}

/// The transition table.
pub fn transition(from: Status, to: Status) -> Transition {
    use Status::*;
    if from == to {
        return Transition::AlreadyThere;
    }
    match (from, to) {
        (Pending, AwaitingPayment | Confirmed | Rejected | Expired)
        | (AwaitingPayment, Confirmed | Rejected | Expired)
        | (Confirmed, Cancelling | Cancelled)
        | (Cancelling, Cancelled) => Transition::Apply,
        _ => Transition::Illegal,
    }
}

/// A booking number: 1 to 64 of `A-Z`, `0-9` and `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingNumber(String);

impl BookingNumber {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > 64 {
            return Err("must be at most 64 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-') {
            return Err("must be upper-case letters, digits and dashes");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer id: 1 to 100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerId(String);

impl CustomerId {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw.chars().count() {
            0 => Err("is required"),
            1..=100 => Ok(Self(raw.to_owned())),
            _ => Err("must be at most 100 characters"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The seats of one booking: 1 to 10 distinct, non-empty ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatIds(Vec<String>);

impl SeatIds {
    pub const MAX: usize = 10;

    pub fn parse(raw: Vec<String>) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("must name at least one seat");
        }
        if raw.len() > Self::MAX {
            return Err("must name at most 10 seats");
        }
        if raw.iter().any(|s| s.is_empty() || s.len() > 32) {
            return Err("every seat id must be 1 to 32 characters");
        }
        if raw.iter().enumerate().any(|(i, s)| raw[..i].contains(s)) {
            return Err("must not name a seat twice");
        }
        Ok(Self(raw))
    }

    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

/// A free-text reason: at most 1000 characters.
pub fn reason(raw: &str) -> Result<&str, &'static str> {
    if raw.chars().count() > 1000 {
        return Err("must be at most 1000 characters");
    }
    Ok(raw)
}

/// Where a page of a customer's bookings starts: after this (created_at,
/// booking number), newest first. Opaque to clients: `<micros>.<number>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken {
    pub created_at: DateTime<Utc>,
    pub booking_number: String,
}

impl PageToken {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.booking_number)
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const INVALID: &str = "is not a token from a previous page";
        let (micros, number) = raw.split_once('.').ok_or(INVALID)?;
        let micros: i64 = micros.parse().map_err(|_| INVALID)?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(INVALID)?;
        let number = BookingNumber::parse(number).map_err(|_| INVALID)?;
        Ok(Self { created_at, booking_number: number.0 })
    }
}

/// A page size: 20 when zero, at most 100.
pub fn page_size(raw: u32) -> i64 {
    match raw {
        0 => 20,
        n => i64::from(n.min(100)),
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::Transition::{AlreadyThere, Apply, Illegal};
    use super::*;

    #[test]
    fn the_transition_table() {
        // Rows: from; columns in Status::ALL order: to.
        #[rustfmt::skip]
        let table = [
            // from              PENDING       AWAITING      CONFIRMED     REJECTED      EXPIRED       CANCELLING    CANCELLED
            (Pending,         [AlreadyThere, Apply,        Apply,        Apply,        Apply,        Illegal,      Illegal]),
            (AwaitingPayment, [Illegal,      AlreadyThere, Apply,        Apply,        Apply,        Illegal,      Illegal]),
            (Confirmed,       [Illegal,      Illegal,      AlreadyThere, Illegal,      Illegal,      Apply,        Apply]),
            (Rejected,        [Illegal,      Illegal,      Illegal,      AlreadyThere, Illegal,      Illegal,      Illegal]),
            (Expired,         [Illegal,      Illegal,      Illegal,      Illegal,      AlreadyThere, Illegal,      Illegal]),
            (Cancelling,      [Illegal,      Illegal,      Illegal,      Illegal,      Illegal,      AlreadyThere, Apply]),
            (Cancelled,       [Illegal,      Illegal,      Illegal,      Illegal,      Illegal,      Illegal,      AlreadyThere]),
        ];
        assert_eq!(table.len(), Status::ALL.len());
        for (from, row) in table {
            for (to, expected) in Status::ALL.into_iter().zip(row) {
                assert_eq!(transition(from, to), expected, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn final_statuses_have_no_way_out() {
        for from in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for to in Status::ALL {
                assert_ne!(transition(from, to), Apply, "{from:?} -> {to:?}");
            }
        }
        assert!(!Confirmed.is_final(), "a confirmed booking can still be cancelled");
    }

    #[test]
    fn statuses_round_trip_through_the_database() {
        for s in Status::ALL {
            assert_eq!(Status::from_db(s.as_str()), s);
        }
    }

    #[test]
    fn booking_numbers() {
        assert_eq!(BookingNumber::parse("BK-20261124-X7Q2").unwrap().as_str(), "BK-20261124-X7Q2");
        assert!(BookingNumber::parse("").is_err());
        assert!(BookingNumber::parse("bk-1").is_err());
        assert!(BookingNumber::parse("BK 1").is_err());
        assert!(BookingNumber::parse(&"A".repeat(64)).is_ok());
        assert!(BookingNumber::parse(&"A".repeat(65)).is_err());
    }

    #[test]
    fn customer_ids() {
        assert!(CustomerId::parse("cust-1").is_ok());
        assert!(CustomerId::parse("").is_err());
        assert!(CustomerId::parse(&"c".repeat(101)).is_err());
    }

    #[test]
    fn seat_ids() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(SeatIds::parse(ids(&["A-1", "A-2"])).is_ok());
        assert!(SeatIds::parse(vec![]).is_err());
        assert!(SeatIds::parse(ids(&["A-1", ""])).is_err());
        assert!(SeatIds::parse(ids(&["A-1", "A-1"])).is_err());
        let eleven: Vec<String> = (1..=11).map(|n| format!("A-{n}")).collect();
        assert!(SeatIds::parse(eleven[..10].to_vec()).is_ok());
        assert!(SeatIds::parse(eleven).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let token = PageToken {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            booking_number: "BK-1".into(),
        };
        assert_eq!(PageToken::parse(&token.encode()).unwrap(), token);
        for garbage in ["", "abc", "12", "x.BK-1", "12.bk", "12."] {
            assert!(PageToken::parse(garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0), 20);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(100), 100);
        assert_eq!(page_size(1000), 100);
    }
}

/// The bounded fuzz campaign over the query parsers (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        #[test]
        fn booking_numbers_are_upper_case_letters_digits_and_dashes(raw in prop_oneof![".*", "[A-Z0-9-]{0,70}"]) {
            if let Ok(number) = BookingNumber::parse(&raw) {
                prop_assert!((1..=64).contains(&number.as_str().len()));
                prop_assert!(number.as_str().bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'));
            }
        }

        #[test]
        fn a_page_token_is_read_back_as_it_was_written(raw in prop_oneof![".*", "-?[0-9]{1,20}\\.[A-Z0-9-]{0,70}"]) {
            if let Ok(token) = PageToken::parse(&raw) {
                prop_assert_eq!(PageToken::parse(&token.encode()), Ok(token));
            }
        }
    }
}
