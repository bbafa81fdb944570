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
