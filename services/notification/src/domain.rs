//! What a customer is told, and when a delivery gives up. No I/O.

use chrono::{DateTime, FixedOffset, Utc};
use cinema_proto::common::v1::BookingStatus;

/// A booking status the customer is told about: every one but UNSPECIFIED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notified {
    Pending,
    AwaitingPayment,
    Confirmed,
    Rejected,
    Expired,
    Cancelling,
    Cancelled,
}

impl Notified {
    /// `None` for statuses nobody is notified of.
    pub fn from_proto(status: BookingStatus) -> Option<Self> {
        match status {
            BookingStatus::Pending => Some(Self::Pending),
            BookingStatus::AwaitingPayment => Some(Self::AwaitingPayment),
            BookingStatus::Confirmed => Some(Self::Confirmed),
            BookingStatus::Rejected => Some(Self::Rejected),
            BookingStatus::Expired => Some(Self::Expired),
            BookingStatus::Cancelling => Some(Self::Cancelling),
            BookingStatus::Cancelled => Some(Self::Cancelled),
            BookingStatus::Unspecified => None,
        }
    }

    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::AwaitingPayment,
        Self::Confirmed,
        Self::Rejected,
        Self::Expired,
        Self::Cancelling,
        Self::Cancelled,
    ];

    pub fn to_proto(self) -> BookingStatus {
        match self {
            Self::Pending => BookingStatus::Pending,
            Self::AwaitingPayment => BookingStatus::AwaitingPayment,
            Self::Confirmed => BookingStatus::Confirmed,
            Self::Rejected => BookingStatus::Rejected,
            Self::Expired => BookingStatus::Expired,
            Self::Cancelling => BookingStatus::Cancelling,
            Self::Cancelled => BookingStatus::Cancelled,
        }
    }

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

    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What the message is about; every field but the booking number may be
/// unknown yet (a PENDING booking has no title).
#[derive(Clone, Debug, Default)]
pub struct Booking {
    pub booking_number: String,
    pub movie_title: String,
    pub screen_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub seat_ids: Vec<String>,
    /// Why it was rejected, when it was.
    pub reason: String,
}

/// Korea Standard Time: what the theater's clock says.
fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// "11월 28일 19:00", in Korea time.
pub fn korean_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&kst()).format("%-m월 %-d일 %H:%M").to_string()
}

/// The message text, e.g. "[cinema] 어벤져스 11월 28일 19:00 1관 A-1, A-2
/// 예매가 완료되었습니다. 예매번호 BK…".
pub fn message(status: Notified, booking: &Booking) -> String {
    let title = booking.movie_title.trim();
    let mut about = vec![if title.is_empty() { "영화".to_owned() } else { title.to_owned() }];
    about.extend(booking.starts_at.map(korean_time));
    about.extend(Some(booking.screen_name.trim().to_owned()).filter(|s| !s.is_empty()));
    about.extend(Some(booking.seat_ids.join(", ")).filter(|s| !s.is_empty()));
    let about = about.join(" ");
    let what = match status {
        Notified::Pending => "예매를 접수했습니다.".to_owned(),
        Notified::AwaitingPayment => "예매의 결제를 처리하고 있습니다. 잠시만 기다려 주세요.".to_owned(),
        Notified::Confirmed => "예매가 완료되었습니다.".to_owned(),
        Notified::Rejected => match booking.reason.trim() {
            "" => "예매가 실패했습니다.".to_owned(),
            reason => format!("예매가 실패했습니다 (사유: {reason})."),
        },
        Notified::Expired => "좌석 선점 시간이 만료되어 예매가 취소되었습니다.".to_owned(),
        Notified::Cancelling => "예매 취소를 접수했습니다. 환불을 처리하고 있습니다.".to_owned(),
        Notified::Cancelled => "예매가 취소되었습니다. 결제 금액은 환불됩니다.".to_owned(),
    };
    format!("[cinema] {about} {what} 예매번호 {}", booking.booking_number)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    DeadLettered,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::DeadLettered => "DEAD_LETTERED",
        }
    }

    pub fn from_db(raw: &str) -> Self {
        match raw {
            "DELIVERED" => Self::Delivered,
            "DEAD_LETTERED" => Self::DeadLettered,
            _ => Self::Pending,
        }
    }

    /// The status after one more attempt (`attempts` counts it): delivered;
    /// dead-lettered when refused for good or after `max_attempts` failures;
    /// else still pending.
    pub fn after_attempt(outcome: Outcome, attempts: u32, max_attempts: u32) -> Self {
        match outcome {
            Outcome::Delivered => Self::Delivered,
            Outcome::Refused => Self::DeadLettered,
            Outcome::Failed if attempts >= max_attempts => Self::DeadLettered,
            Outcome::Failed => Self::Pending,
        }
    }
}

/// How one attempt went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed for now: worth trying again.
    Failed,
    /// Refused for good (see [`is_permanent`]).
    Refused,
}

/// Whether an HTTP answer says "this request can never succeed", so that
/// retrying is pointless and the delivery is dead-lettered at once: malformed
/// or refused content (400, 413, 415, 422) or a recipient that is gone (410).
/// Everything else is retried until `max_attempts`: 5xx and timeouts (an
/// outage), 408/425/429 (slow down), and also 401/403/404, which mean our
/// credentials or endpoint are misconfigured, something an operator fixes
/// while the retries run.
pub fn is_permanent(http_status: u16) -> bool {
    matches!(http_status, 400 | 410 | 413 | 415 | 422)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn booking() -> Booking {
        Booking {
            booking_number: "BK20261128A1B2".into(),
            movie_title: "어벤져스".into(),
            screen_name: "1관".into(),
            // 10:00 UTC is 19:00 in Seoul.
            starts_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()),
            seat_ids: vec!["A-1".into(), "A-2".into()],
            reason: String::new(),
        }
    }

    #[test]
    fn every_visible_status_has_its_message() {
        let about = "[cinema] 어벤져스 11월 28일 19:00 1관 A-1, A-2";
        let rejected = Booking { reason: "이미 선택된 좌석입니다".into(), ..booking() };
        let cases = [
            (Notified::Pending, booking(), "예매를 접수했습니다."),
            (Notified::AwaitingPayment, booking(), "예매의 결제를 처리하고 있습니다. 잠시만 기다려 주세요."),
            (Notified::Confirmed, booking(), "예매가 완료되었습니다."),
            (Notified::Rejected, rejected, "예매가 실패했습니다 (사유: 이미 선택된 좌석입니다)."),
            (Notified::Rejected, booking(), "예매가 실패했습니다."),
            (Notified::Expired, booking(), "좌석 선점 시간이 만료되어 예매가 취소되었습니다."),
            (Notified::Cancelling, booking(), "예매 취소를 접수했습니다. 환불을 처리하고 있습니다."),
            (Notified::Cancelled, booking(), "예매가 취소되었습니다. 결제 금액은 환불됩니다."),
        ];
        for (status, booking, what) in cases {
            assert_eq!(message(status, &booking), format!("{about} {what} 예매번호 BK20261128A1B2"), "{status:?}");
        }
    }

    #[test]
    fn unknown_details_are_left_out() {
        let pending = Booking { booking_number: "BK1".into(), seat_ids: vec!["C-3".into()], ..Booking::default() };
        assert_eq!(message(Notified::Pending, &pending), "[cinema] 영화 C-3 예매를 접수했습니다. 예매번호 BK1");
    }

    #[test]
    fn times_are_shown_in_korea() {
        // 16:30 UTC on Nov 30 is 01:30 on Dec 1 in Seoul.
        assert_eq!(korean_time(Utc.with_ymd_and_hms(2026, 11, 30, 16, 30, 0).unwrap()), "12월 1일 01:30");
    }

    #[test]
    fn every_status_but_unspecified_notifies() {
        assert_eq!(Notified::from_proto(BookingStatus::Unspecified), None);
        for notified in Notified::ALL {
            assert_eq!(Notified::from_proto(notified.to_proto()), Some(notified));
            assert_eq!(Notified::from_db(notified.as_str()), Some(notified));
        }
    }

    #[test]
    fn only_bad_requests_are_permanent() {
        for status in [400, 410, 413, 415, 422] {
            assert!(is_permanent(status), "{status}");
        }
        for status in [401, 403, 404, 408, 425, 429, 500, 502, 503, 504] {
            assert!(!is_permanent(status), "{status}");
        }
    }

    #[test]
    fn deliveries_give_up_after_the_last_attempt() {
        use DeliveryStatus::*;
        let cases = [
            (Outcome::Delivered, 1, Delivered),
            (Outcome::Delivered, 5, Delivered),
            (Outcome::Failed, 1, Pending),
            (Outcome::Failed, 4, Pending),
            (Outcome::Failed, 5, DeadLettered),
            (Outcome::Refused, 1, DeadLettered),
        ];
        for (outcome, attempts, expected) in cases {
            assert_eq!(DeliveryStatus::after_attempt(outcome, attempts, 5), expected, "{outcome:?} {attempts}");
        }
    }
}
