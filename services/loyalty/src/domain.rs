//! Loyalty rules: how many points a booking earns, when they are taken back,
//! and how history is paged. No I/O.

use chrono::{DateTime, Utc};
use cinema_proto::common::v1::BookingStatus;
use uuid::Uuid;

/// Points earned per 100 of the amount paid: 0 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccrualPercent(u32);

impl AccrualPercent {
    pub fn parse(raw: u32) -> Result<Self, &'static str> {
        match raw {
            0..=100 => Ok(Self(raw)),
            _ => Err("accrual_percent must be between 0 and 100"),
        }
    }

    /// The points `amount` earns, rounded down; nothing for a non-positive amount.
    pub fn of(self, amount: i64) -> i64 {
        let points = i128::from(amount.max(0)) * i128::from(self.0) / 100;
        i64::try_from(points).unwrap_or(i64::MAX)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Accrual,
    Revocation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accrual => "ACCRUAL",
            Self::Revocation => "REVOCATION",
        }
    }
}

/// What is known of a booking already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookingLedger {
    /// The points accrued, if it accrued.
    pub accrued: Option<i64>,
    /// A CANCELLED event was handled (whether or not it revoked anything).
    pub cancelled: bool,
}

/// A ledger entry to write: positive points accrue, negative revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub points: i64,
    pub reason: String,
}

/// The money a status change carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Amount {
    pub currency: String,
    pub amount: i64,
}

/// The entry a status change makes, if any: CONFIRMED accrues once (when it
/// earns at least a point) unless the booking was cancelled already (events
/// may be handled out of order: cancelled is final), CANCELLED takes back
/// exactly what was accrued (nothing when nothing was), once; every other
/// status changes nothing.
pub fn entry_for(
    status: BookingStatus,
    paid: &Amount,
    percent: AccrualPercent,
    ledger: BookingLedger,
) -> Option<Entry> {
    match status {
        BookingStatus::Confirmed if ledger.accrued.is_none() && !ledger.cancelled => {
            let points = percent.of(paid.amount);
            (points > 0).then(|| Entry {
                kind: Kind::Accrual,
                points,
                reason: format!("예매 확정 적립 ({} {}의 {}%)", paid.currency, paid.amount, percent.0),
            })
        }
        BookingStatus::Cancelled if !ledger.cancelled => ledger.accrued.filter(|&p| p > 0).map(|points| Entry {
            kind: Kind::Revocation,
            points: -points,
            reason: "예매 취소로 적립 회수".to_owned(),
        }),
        _ => None,
    }
}

/// Where an entry is relayed: an accrual to the customer's linked membership,
/// a revocation to the membership its accrual went to (whatever the link is
/// now); nothing when there is no such membership.
pub fn relay_target<'a>(
    kind: Kind,
    linked: Option<&'a Membership>,
    accrual_went_to: Option<&'a Membership>,
) -> Option<&'a Membership> {
    match kind {
        Kind::Accrual => linked,
        Kind::Revocation => accrual_went_to,
    }
}

/// A customer's number at a partner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub partner_id: String,
    pub member_number: String,
}

/// A member number as partners issue them: 4 to 32 ASCII letters, digits or '-'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberNumber(String);

impl MemberNumber {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        match raw.len() {
            4..=32 if raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => Ok(Self(raw.to_owned())),
            _ => Err("must be 4 to 32 letters, digits or '-'"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a partner's HTTP answer means for a relayed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 2xx, or 409 (a partner saying "this key is applied already").
    Applied,
    /// 5xx, 408, 429, 401/403/404 (misconfiguration an operator fixes), ...: try again later.
    Retry,
    /// 400, 410, 413, 415, 422: the request can never succeed.
    Refused,
}

impl Answer {
    pub fn of(http_status: u16) -> Self {
        match http_status {
            200..=299 | 409 => Self::Applied,
            400 | 410 | 413 | 415 | 422 => Self::Refused,
            _ => Self::Retry,
        }
    }
}

/// History entries per page: 20 when unset, at most 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: u32 = 20;
    pub const MAX: u32 = 100;

    pub fn parse(raw: u32) -> Self {
        match raw {
            0 => Self(Self::DEFAULT),
            n => Self(n.min(Self::MAX)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Where the next page starts: after this entry, in newest-first order.
/// Opaque to clients (hex of `{micros}:{entry_id}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageToken {
    pub created_at: DateTime<Utc>,
    pub entry_id: Uuid,
}

impl PageToken {
    pub fn encode(&self) -> String {
        let raw = format!("{}:{}", self.created_at.timestamp_micros(), self.entry_id);
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// `Ok(None)` for an empty token (the first page).
    pub fn parse(token: &str) -> Result<Option<Self>, &'static str> {
        if token.is_empty() {
            return Ok(None);
        }
        const INVALID: &str = "is not a page token from this service";
        if !token.len().is_multiple_of(2) || token.len() > 200 {
            return Err(INVALID);
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or(INVALID)?;
        let raw = String::from_utf8(bytes).map_err(|_| INVALID)?;
        let (micros, entry_id) = raw.split_once(':').ok_or(INVALID)?;
        let created_at = micros.parse().ok().and_then(DateTime::from_timestamp_micros).ok_or(INVALID)?;
        let entry_id = entry_id.parse().map_err(|_| INVALID)?;
        Ok(Some(Self { created_at, entry_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krw(amount: i64) -> Amount {
        Amount { currency: "KRW".into(), amount }
    }

    #[test]
    fn accrual_is_a_percent_rounded_down() {
        let five = AccrualPercent::parse(5).unwrap();
        let cases = [(24_000, 1_200), (12_345, 617), (19, 0), (0, 0), (-500, 0)];
        for (amount, points) in cases {
            assert_eq!(five.of(amount), points, "{amount}");
        }
        assert_eq!(AccrualPercent::parse(100).unwrap().of(i64::MAX), i64::MAX);
        assert!(AccrualPercent::parse(101).is_err());
    }

    #[test]
    fn status_changes_make_at_most_one_entry_each() {
        use BookingStatus::*;
        let five = AccrualPercent::parse(5).unwrap();
        let none = BookingLedger::default();
        let accrued = BookingLedger { accrued: Some(1_200), cancelled: false };
        let revoked = BookingLedger { accrued: Some(1_200), cancelled: true };
        let cancelled_first = BookingLedger { accrued: None, cancelled: true };
        type Case = (BookingStatus, i64, BookingLedger, Option<(Kind, i64)>);
        let cases: [Case; 12] = [
            (Confirmed, 24_000, none, Some((Kind::Accrual, 1_200))),
            (Confirmed, 24_000, accrued, None),
            (Confirmed, 24_000, revoked, None),
            // CANCELLED was handled before CONFIRMED: nothing is granted.
            (Confirmed, 24_000, cancelled_first, None),
            (Cancelled, 24_000, cancelled_first, None),
            (Confirmed, 19, none, None),
            (Cancelled, 24_000, accrued, Some((Kind::Revocation, -1_200))),
            // The revocation is what was accrued, whatever the event says now.
            (Cancelled, 99_999, accrued, Some((Kind::Revocation, -1_200))),
            (Cancelled, 24_000, none, None),
            (Cancelled, 24_000, revoked, None),
            (Pending, 24_000, none, None),
            (Cancelling, 24_000, accrued, None),
        ];
        for (status, amount, ledger, expected) in cases {
            let entry = entry_for(status, &krw(amount), five, ledger);
            assert_eq!(entry.map(|e| (e.kind, e.points)), expected, "{status:?} {amount} {ledger:?}");
        }
    }

    #[test]
    fn accruals_say_why() {
        let entry = entry_for(
            BookingStatus::Confirmed,
            &krw(24_000),
            AccrualPercent::parse(5).unwrap(),
            BookingLedger::default(),
        );
        assert_eq!(entry.unwrap().reason, "예매 확정 적립 (KRW 24000의 5%)");
    }

    #[test]
    fn accruals_follow_the_link_and_revocations_follow_their_accrual() {
        let linked = Membership { partner_id: "okcashbag".into(), member_number: "M-2".into() };
        let first = Membership { partner_id: "okcashbag".into(), member_number: "M-1".into() };
        assert_eq!(relay_target(Kind::Accrual, Some(&linked), None), Some(&linked));
        assert_eq!(relay_target(Kind::Accrual, None, Some(&first)), None);
        assert_eq!(relay_target(Kind::Revocation, Some(&linked), Some(&first)), Some(&first));
        assert_eq!(relay_target(Kind::Revocation, Some(&linked), None), None);
    }

    #[test]
    fn member_numbers_are_short_and_plain() {
        assert_eq!(MemberNumber::parse(" 1234-5678 ").unwrap().as_str(), "1234-5678");
        for bad in ["", "123", &"9".repeat(33), "12 34", "12/34", "카드번호1"] {
            assert!(MemberNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partner_answers_are_applied_retried_or_refused() {
        for (status, answer) in [
            (200, Answer::Applied),
            (201, Answer::Applied),
            (409, Answer::Applied),
            (400, Answer::Refused),
            (422, Answer::Refused),
            (401, Answer::Retry),
            (404, Answer::Retry),
            (429, Answer::Retry),
            (500, Answer::Retry),
            (503, Answer::Retry),
        ] {
            assert_eq!(Answer::of(status), answer, "{status}");
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(PageSize::parse(0).get(), 20);
        assert_eq!(PageSize::parse(7).get(), 7);
        assert_eq!(PageSize::parse(100).get(), 100);
        assert_eq!(PageSize::parse(1_000).get(), 100);
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let token = PageToken {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            entry_id: Uuid::now_v7(),
        };
        assert_eq!(PageToken::parse(&token.encode()), Ok(Some(token)));
        assert_eq!(PageToken::parse(""), Ok(None));
        for garbage in ["zz", "abc", "deadbeef", &"3a".repeat(10), &"00".repeat(150)] {
            assert!(PageToken::parse(garbage).is_err(), "{garbage}");
        }
    }
}

/// The bounded fuzz campaign over the account request parsers (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        #[test]
        fn member_numbers_are_four_to_32_letters_digits_or_dashes(raw in prop_oneof![".*", "\\s?[A-Za-z0-9-]{0,40}\\s?"]) {
            if let Ok(member) = MemberNumber::parse(&raw) {
                prop_assert!((4..=32).contains(&member.as_str().len()));
                prop_assert!(member.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            }
        }

        #[test]
        fn a_page_token_is_read_back_as_it_was_written(raw in prop_oneof![".*", "[0-9a-f]{0,160}"], size: u32) {
            if let Ok(Some(token)) = PageToken::parse(&raw) {
                prop_assert_eq!(PageToken::parse(&token.encode()), Ok(Some(token)));
            }
            prop_assert!((1..=PageSize::MAX).contains(&PageSize::parse(size).get()));
        }
    }
}
