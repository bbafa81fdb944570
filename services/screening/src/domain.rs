//! Screening rules, parsed at the edge. No I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A movie's title: 1 to 200 printable characters, trimmed.
#[derive(Clone, Debug)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let title = raw.trim();
        if title.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        match title.chars().count() {
            0 => Err("is required"),
            1..=200 => Ok(Self(title.to_owned())),
            _ => Err("must be at most 200 characters"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovieStatus {
    Waiting,
    Running,
    Ended,
}

impl MovieStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::Running => "RUNNING",
            Self::Ended => "ENDED",
        }
    }

    pub fn from_db(raw: &str) -> Self {
        match raw {
            "RUNNING" => Self::Running,
            "ENDED" => Self::Ended,
            _ => Self::Waiting,
        }
    }
}

/// Running time in minutes: 1 to 600.
#[derive(Clone, Copy, Debug)]
pub struct RunningMinutes(u32);

impl RunningMinutes {
    /// Used when the admin does not say.
    pub const DEFAULT: Self = Self(120);

    pub fn parse(raw: u32) -> Result<Self, &'static str> {
        match raw {
            0 => Ok(Self::DEFAULT),
            1..=600 => Ok(Self(raw)),
            _ => Err("must be between 1 and 600 minutes"),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// An amount in a currency; amounts are never negative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub currency: String,
    pub amount: i64,
}

impl Price {
    pub fn parse(currency: &str, amount: i64) -> Result<Self, &'static str> {
        let currency = if currency.is_empty() { "KRW" } else { currency };
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err("currency must be an ISO 4217 code like KRW");
        }
        if amount <= 0 {
            return Err("amount must be positive");
        }
        if amount > 10_000_000 {
            return Err("amount must be at most 10,000,000");
        }
        Ok(Self { currency: currency.to_owned(), amount })
    }
}

/// A screen's layout: rows of numbered seats.
#[derive(Clone, Debug)]
pub struct Layout {
    pub rows: Vec<String>,
    pub seats_per_row: u32,
}

impl Layout {
    /// Every seat id in order: `A-1`, `A-2`, ...
    pub fn seat_ids(&self) -> impl Iterator<Item = (String, &str)> {
        self.rows
            .iter()
            .flat_map(move |row| (1..=self.seats_per_row).map(move |n| (format!("{row}-{n}"), row.as_str())))
    }
}

/// The schedule of one screening, checked.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub starts_at: DateTime<Utc>,
    pub price: Price,
    /// Row -> amount, in the screening's currency.
    pub row_prices: BTreeMap<String, i64>,
}

impl Schedule {
    pub fn price_of(&self, row: &str) -> i64 {
        self.row_prices.get(row).copied().unwrap_or(self.price.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  어벤져스 ").unwrap().as_str(), "어벤져스");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn prices_are_positive_iso_amounts() {
        assert_eq!(Price::parse("", 12000).unwrap().currency, "KRW");
        assert!(Price::parse("KRW", 0).is_err());
        assert!(Price::parse("KRW", -1).is_err());
        assert!(Price::parse("won", 1).is_err());
    }

    #[test]
    fn layout_lists_every_seat() {
        let layout = Layout { rows: vec!["A".into(), "B".into()], seats_per_row: 3 };
        let ids: Vec<_> = layout.seat_ids().map(|(id, _)| id).collect();
        assert_eq!(ids, ["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"]);
    }
}

/// The bounded fuzz campaign over the admin request parsers (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        #[test]
        fn titles_are_trimmed_printable_and_bounded(raw in prop_oneof![".*", "\\s*\\PC{0,250}\\s*"]) {
            if let Ok(title) = Title::parse(&raw) {
                let title = title.as_str();
                prop_assert!((1..=200).contains(&title.chars().count()) && title == title.trim());
                prop_assert!(!title.chars().any(char::is_control));
            }
        }

        #[test]
        fn prices_and_running_times_are_in_range(currency in prop_oneof![".*", "[A-Z]{0,4}"], amount: i64, minutes: u32) {
            if let Ok(price) = Price::parse(&currency, amount) {
                prop_assert!((1..=10_000_000).contains(&price.amount));
                prop_assert!(price.currency.len() == 3 && price.currency.bytes().all(|b| b.is_ascii_uppercase()));
            }
            if let Ok(minutes) = RunningMinutes::parse(minutes) {
                prop_assert!((1..=600).contains(&minutes.get()));
            }
        }
    }
}
