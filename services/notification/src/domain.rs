//! What a customer is told, and when a delivery gives up. No I/O.

use chrono::{DateTime, FixedOffset, Utc};
use cinema_proto::common::v1::BookingStatus;

/// A booking status the customer is told about (CANCELLING is not one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notified {
    Pending,
    AwaitingPayment,
    Confirmed,
    Rejected,
    Expired,
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
            BookingStatus::Cancelled => Some(Self::Cancelled),
            BookingStatus::Unspecified | BookingStatus::Cancelling => None,
        }
    }

    pub fn to_proto(self) -> BookingStatus {
        match self {
            Self::Pending => BookingStatus::Pending,
            Self::AwaitingPayment => BookingStatus::AwaitingPayment,
            Self::Confirmed => BookingStatus::Confirmed,
            Self::Rejected => BookingStatus::Rejected,
            Self::Expired => BookingStatus::Expired,
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
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn from_db(raw: &str) -> Option<Self> {
        [Self::Pending, Self::AwaitingPayment, Self::Confirmed, Self::Rejected, Self::Expired, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == raw)
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

    /// The status after one more attempt (`attempts` counts it): delivered,
    /// or still pending until `max_attempts` failures, then dead-lettered.
    pub fn after_attempt(delivered: bool, attempts: u32, max_attempts: u32) -> Self {
        match delivered {
            true => Self::Delivered,
            false if attempts >= max_attempts => Self::DeadLettered,
            false => Self::Pending,
        }
    }
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
    fn cancelling_notifies_nobody() {
        assert_eq!(Notified::from_proto(BookingStatus::Cancelling), None);
        assert_eq!(Notified::from_proto(BookingStatus::Unspecified), None);
        for status in [BookingStatus::Pending, BookingStatus::Confirmed, BookingStatus::Cancelled] {
            let notified = Notified::from_proto(status).unwrap();
            assert_eq!(notified.to_proto(), status);
            assert_eq!(Notified::from_db(notified.as_str()), Some(notified));
        }
    }

    #[test]
    fn deliveries_give_up_after_the_last_attempt() {
        use DeliveryStatus::*;
        let cases = [
            (true, 1, Delivered),
            (true, 5, Delivered),
            (false, 1, Pending),
            (false, 4, Pending),
            (false, 5, DeadLettered),
        ];
        for (delivered, attempts, expected) in cases {
            assert_eq!(DeliveryStatus::after_attempt(delivered, attempts, 5), expected, "{delivered} {attempts}");
        }
    }
}
