//! Seat rules, parsed at the edge. No I/O.

use std::collections::BTreeSet;

/// The most seats one booking may hold.
pub const MAX_SEATS: usize = 10;

/// A seat id `{row}-{number}`: a row of one to two capital letters, a number 1..=99.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeatId(String);

impl SeatId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not a seat id like A-1");
        let (row, number) = raw.split_once('-').ok_or_else(bad)?;
        let row_ok = (1..=2).contains(&row.len()) && row.chars().all(|c| c.is_ascii_uppercase());
        let number_ok = !number.starts_with('0') && number.parse::<u8>().is_ok_and(|n| (1..=99).contains(&n));
        if row_ok && number_ok { Ok(Self(raw.to_owned())) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One to ten distinct seats, kept in order (locks are taken in this order).
#[derive(Clone, Debug)]
pub struct SeatIds(BTreeSet<SeatId>);

impl SeatIds {
    pub fn parse(raw: &[String]) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("at least one seat is required".into());
        }
        if raw.len() > MAX_SEATS {
            return Err(format!("at most {MAX_SEATS} seats per booking"));
        }
        let mut seats = BTreeSet::new();
        for s in raw {
            if !seats.insert(SeatId::parse(s)?) {
                return Err(format!("seat {s} is listed twice"));
            }
        }
        Ok(Self(seats))
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

/// A booking number as the orchestrator makes them.
pub fn parse_booking_number(raw: &str) -> Result<&str, &'static str> {
    match raw.len() {
        0 => Err("is required"),
        1..=64 if raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => Ok(raw),
        _ => Err("must be up to 64 letters, digits and dashes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_ids_are_row_dash_number() {
        for good in ["A-1", "J-12", "AA-99"] {
            assert!(SeatId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "A1", "a-1", "A-0", "A-01", "A-100", "ABC-1", "A--1", "A-x"] {
            assert!(SeatId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seat_lists_are_distinct_bounded_and_sorted() {
        let ids = SeatIds::parse(&["B-2".into(), "A-1".into()]).unwrap();
        assert_eq!(ids.to_vec(), ["A-1", "B-2"]);
        assert!(SeatIds::parse(&[]).is_err());
        assert!(SeatIds::parse(&["A-1".into(), "A-1".into()]).is_err());
        let eleven: Vec<String> = (1..=11).map(|n| format!("A-{n}")).collect();
        assert!(SeatIds::parse(&eleven).is_err());
    }
}

/// The bounded fuzz campaign over the seat parsers (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        #[test]
        fn seat_lists_are_one_to_ten_distinct_seat_ids(
            raw in proptest::collection::vec(prop_oneof!["[A-Z]{1,3}-[0-9]{1,3}", ".{0,6}"], 0..14),
        ) {
            if let Ok(seats) = SeatIds::parse(&raw) {
                let seats = seats.to_vec();
                prop_assert!((1..=MAX_SEATS).contains(&seats.len()) && seats.len() == raw.len());
                prop_assert!(seats.iter().all(|s| SeatId::parse(s).is_ok()));
            }
        }

        #[test]
        fn booking_numbers_are_letters_digits_and_dashes(raw in ".*") {
            if let Ok(number) = parse_booking_number(&raw) {
                prop_assert!((1..=64).contains(&number.len()));
                prop_assert!(number.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            }
        }
    }
}
