//! Where each event is published: its JetStream stream, subject and type name.

/// A kind of event: the subject it is published on and its payload's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topic {
    pub subject: &'static str,
    pub event_type: &'static str,
}

/// A JetStream stream and the subjects it captures.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    pub name: &'static str,
    pub subjects: &'static str,
}

pub const STREAMS: &[Stream] = &[
    Stream { name: "SCREENING", subjects: "cinema.screening.>" },
    Stream { name: "SEATS", subjects: "cinema.seats.>" },
    Stream { name: "PAYMENT", subjects: "cinema.payment.>" },
    Stream { name: "BOOKING", subjects: "cinema.booking.>" },
    // Messages a consumer gave up on, under `cinema.deadletter.<consumer>`.
    Stream { name: "DEADLETTER", subjects: "cinema.deadletter.>" },
];

/// Where `consumer` puts the messages it can never handle.
pub fn dead_letter_subject(consumer: &str) -> String {
    format!("cinema.deadletter.{consumer}")
}

macro_rules! topic {
    ($name:ident, $subject:literal, $ty:literal) => {
        pub const $name: Topic = Topic { subject: $subject, event_type: concat!("cinema.events.v1.", $ty) };
    };
}

topic!(MOVIE_REGISTERED, "cinema.screening.movie_registered", "MovieRegistered");
topic!(SCREENING_SCHEDULED, "cinema.screening.screening_scheduled", "ScreeningScheduled");
topic!(SEATS_HELD, "cinema.seats.held", "SeatsHeld");
topic!(SEATS_SOLD, "cinema.seats.sold", "SeatsSold");
topic!(SEATS_RELEASED, "cinema.seats.released", "SeatsReleased");
topic!(PAYMENT_CAPTURED, "cinema.payment.captured", "PaymentCaptured");
topic!(PAYMENT_DECLINED, "cinema.payment.declined", "PaymentDeclined");
topic!(PAYMENT_REFUNDED, "cinema.payment.refunded", "PaymentRefunded");
topic!(BOOKING_STATUS_CHANGED, "cinema.booking.status_changed", "BookingStatusChanged");
