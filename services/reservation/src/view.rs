//! The booking view: what a customer sees of one booking, folded from events.
//! No I/O.
//!
//! A view has three parts, each written by one stream: the booking (BOOKING:
//! `BookingStatusChanged`), the payment (PAYMENT) and the seats (SEATS). Each
//! part keeps the event it came from's [`Position`], and [`BookingView::join`]
//! keeps, part by part, the later one. Join is commutative, associative and
//! idempotent, so the view does not depend on the order the streams are read
//! in, a redelivered or replayed event changes nothing, and a rebuild can be
//! merged into the live view while the projector runs.

use chrono::{DateTime, Utc};
use cinema_proto::common::v1::{BookingStatus, Money};
use cinema_proto::events::v1 as ev;
use cinema_proto::reservation::v1 as pb;
use cinema_proto::topics;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::domain::Status;

/// Where a part came from: the aggregate's version, then the stream sequence.
/// The version orders a booking's (or a payment's) events even if two relay
/// replicas published them out of order; the sequence breaks ties and orders
/// the seats' events (held, sold, released: a hold can be sold after expiring).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub version: u64,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part<T> {
    pub at: Position,
    /// When the event occurred.
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub value: T,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub currency: String,
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingPart {
    pub customer_id: String,
    pub screening_id: String,
    pub seat_ids: Vec<String>,
    /// As stored in the record: PENDING, CONFIRMED, ...
    pub status: String,
    pub reason: String,
    pub amount: Option<Amount>,
    pub payment_id: String,
    pub movie_title: String,
    pub screen_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    Captured,
    Declined,
    Refunded,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentPart {
    pub status: PaymentState,
    pub payment_id: String,
    pub amount: Option<Amount>,
    /// Why it was declined.
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeatsState {
    Held,
    Sold,
    Released,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeatsPart {
    pub status: SeatsState,
    pub seat_ids: Vec<String>,
    pub hold_expires_at: Option<DateTime<Utc>>,
}

/// One booking's view, stored as JSON under its booking number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BookingView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<Part<BookingPart>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Part<PaymentPart>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<Part<SeatsPart>>,
}

/// What one event says about one booking.
#[derive(Debug, PartialEq)]
pub struct Fact {
    pub booking_number: String,
    pub view: BookingView,
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("payload of {event_type} does not decode: {error}")]
    Payload { event_type: String, error: prost::DecodeError },
    #[error("event {0} has no occurred_at")]
    NoTime(String),
    #[error("event {0} has no booking status")]
    NoStatus(String),
}

impl BookingView {
    /// The later of each part. Commutative, associative, idempotent.
    pub fn join(&self, other: &Self) -> Self {
        Self {
            booking: later(&self.booking, &other.booking),
            payment: later(&self.payment, &other.payment),
            seats: later(&self.seats, &other.seats),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a view always serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn version(&self) -> u64 {
        self.booking.as_ref().map_or(0, |b| b.value.version)
    }

    /// The booking as the API shows it; `None` until the booking part arrives
    /// (a payment or seat event can be read before the booking's first event).
    pub fn render(&self, booking_number: &str, revision: u64) -> Option<pb::Booking> {
        let booking = self.booking.as_ref()?;
        let b = &booking.value;
        let to_proto = cinema_mesh::time::to_proto;
        // The record's time of its last change, or a later payment or seat event.
        let updated_at = [self.payment.as_ref().map(|p| p.occurred_at), self.seats.as_ref().map(|s| s.occurred_at)]
            .into_iter()
            .flatten()
            .fold(b.updated_at.unwrap_or(booking.occurred_at), DateTime::max);
        let (seats_status, hold_expires_at) = match &self.seats {
            None => (pb::SeatsStatus::Unspecified, None),
            Some(s) => match s.value.status {
                SeatsState::Held => (pb::SeatsStatus::Held, s.value.hold_expires_at),
                SeatsState::Sold => (pb::SeatsStatus::Sold, None),
                SeatsState::Released => (pb::SeatsStatus::Released, None),
            },
        };
        let payment_status = match self.payment.as_ref().map(|p| p.value.status) {
            None => pb::PaymentStatus::Unspecified,
            Some(PaymentState::Captured) => pb::PaymentStatus::Captured,
            Some(PaymentState::Declined) => pb::PaymentStatus::Declined,
            Some(PaymentState::Refunded) => pb::PaymentStatus::Refunded,
        };
        let payment = self.payment.as_ref().map(|p| &p.value);
        let amount = b.amount.as_ref().or(payment.and_then(|p| p.amount.as_ref()));
        let payment_id = match (&b.payment_id, payment) {
            (id, _) if !id.is_empty() => id.clone(),
            (_, Some(p)) => p.payment_id.clone(),
            _ => String::new(),
        };
        Some(pb::Booking {
            booking_number: booking_number.to_owned(),
            customer_id: b.customer_id.clone(),
            screening_id: b.screening_id.clone(),
            seat_ids: b.seat_ids.clone(),
            status: BookingStatus::from(Status::from_db(&b.status)).into(),
            reason: b.reason.clone(),
            amount: amount.map(|a| Money { currency: a.currency.clone(), amount: a.amount }),
            payment_id,
            movie_title: b.movie_title.clone(),
            screen_name: b.screen_name.clone(),
            starts_at: b.starts_at.map(to_proto),
            created_at: Some(to_proto(b.created_at.unwrap_or(booking.occurred_at))),
            updated_at: Some(to_proto(updated_at)),
            version: b.version,
            payment_status: payment_status.into(),
            seats_status: seats_status.into(),
            hold_expires_at: hold_expires_at.map(to_proto),
            revision,
        })
    }
}

fn later<T: Clone>(a: &Option<Part<T>>, b: &Option<Part<T>>) -> Option<Part<T>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.at > x.at { y.clone() } else { x.clone() }),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    }
}

/// What `envelope`, read at stream sequence `seq`, says about a booking;
/// `Ok(None)` for events the view does not use.
pub fn fact(envelope: &ev::Envelope, seq: u64) -> Result<Option<Fact>, Unreadable> {
    let occurred_at = || {
        envelope
            .occurred_at
            .as_ref()
            .and_then(cinema_mesh::time::from_proto)
            .ok_or_else(|| Unreadable::NoTime(envelope.event_id.clone()))
    };
    let decode = |error| Unreadable::Payload { event_type: envelope.event_type.clone(), error };
    let at = Position { version: envelope.aggregate_version, seq };
    let payload = envelope.payload.as_slice();
    let amount = |m: Option<Money>| m.map(|m| Amount { currency: m.currency, amount: m.amount });
    let time = |t: Option<prost_types::Timestamp>| t.as_ref().and_then(cinema_mesh::time::from_proto);

    let t = envelope.event_type.as_str();
    let (number, view) = if t == topics::BOOKING_STATUS_CHANGED.event_type {
        let e = ev::BookingStatusChanged::decode(payload).map_err(decode)?;
        let status = Status::from_proto(e.status()).ok_or_else(|| Unreadable::NoStatus(envelope.event_id.clone()))?;
        let value = BookingPart {
            customer_id: e.customer_id,
            screening_id: e.screening_id,
            seat_ids: e.seat_ids,
            status: status.as_str().to_owned(),
            reason: e.reason,
            amount: amount(e.amount),
            payment_id: e.payment_id,
            movie_title: e.movie_title,
            screen_name: e.screen_name,
            starts_at: time(e.starts_at),
            created_at: time(e.created_at),
            updated_at: time(e.updated_at),
            version: e.version,
        };
        let at = Position { version: e.version, seq };
        (
            e.booking_number,
            BookingView { booking: Some(Part { at, occurred_at: occurred_at()?, value }), ..Default::default() },
        )
    } else if let Some(state) = state_of(t, &PAYMENT_EVENTS) {
        let (number, value) = match state {
            PaymentState::Captured => {
                let e = ev::PaymentCaptured::decode(payload).map_err(decode)?;
                (
                    e.booking_number,
                    PaymentPart {
                        status: state,
                        payment_id: e.payment_id,
                        amount: amount(e.amount),
                        reason: String::new(),
                    },
                )
            }
            PaymentState::Declined => {
                let e = ev::PaymentDeclined::decode(payload).map_err(decode)?;
                (
                    e.booking_number,
                    PaymentPart { status: state, payment_id: e.payment_id, amount: None, reason: e.reason },
                )
            }
            PaymentState::Refunded => {
                let e = ev::PaymentRefunded::decode(payload).map_err(decode)?;
                (
                    e.booking_number,
                    PaymentPart {
                        status: state,
                        payment_id: e.payment_id,
                        amount: amount(e.amount),
                        reason: String::new(),
                    },
                )
            }
        };
        (number, BookingView { payment: Some(Part { at, occurred_at: occurred_at()?, value }), ..Default::default() })
    } else if let Some(state) = state_of(t, &SEATS_EVENTS) {
        let (number, seat_ids, hold_expires_at) = match state {
            SeatsState::Held => {
                let e = ev::SeatsHeld::decode(payload).map_err(decode)?;
                (e.booking_number, e.seat_ids, time(e.expires_at))
            }
            SeatsState::Sold => {
                let e = ev::SeatsSold::decode(payload).map_err(decode)?;
                (e.booking_number, e.seat_ids, None)
            }
            SeatsState::Released => {
                let e = ev::SeatsReleased::decode(payload).map_err(decode)?;
                (e.booking_number, e.seat_ids, None)
            }
        };
        // Seat events carry no monotonic version (a hold can be sold after it
        // expired and was released): the stream order decides.
        let at = Position { version: 0, seq };
        let value = SeatsPart { status: state, seat_ids, hold_expires_at };
        (number, BookingView { seats: Some(Part { at, occurred_at: occurred_at()?, value }), ..Default::default() })
    } else {
        return Ok(None);
    };
    Ok(Some(Fact { booking_number: number, view }))
}

const PAYMENT_EVENTS: [(topics::Topic, PaymentState); 3] = [
    (topics::PAYMENT_CAPTURED, PaymentState::Captured),
    (topics::PAYMENT_DECLINED, PaymentState::Declined),
    (topics::PAYMENT_REFUNDED, PaymentState::Refunded),
];

const SEATS_EVENTS: [(topics::Topic, SeatsState); 3] = [
    (topics::SEATS_HELD, SeatsState::Held),
    (topics::SEATS_SOLD, SeatsState::Sold),
    (topics::SEATS_RELEASED, SeatsState::Released),
];

/// The state `table` gives the event type, if it has it.
fn state_of<S: Copy>(event_type: &str, table: &[(topics::Topic, S)]) -> Option<S> {
    table.iter().find_map(|(topic, state)| (topic.event_type == event_type).then_some(*state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope<M: Message>(topic: topics::Topic, version: u64, payload: &M) -> ev::Envelope {
        ev::Envelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: topic.event_type.into(),
            occurred_at: Some(prost_types::Timestamp { seconds: 1_800_000_000 + version as i64, nanos: 0 }),
            aggregate_id: "BK1".into(),
            aggregate_version: version,
            correlation_id: "c".into(),
            causation_id: "c".into(),
            payload: payload.encode_to_vec(),
        }
    }

    fn status_changed(status: BookingStatus, version: u64) -> ev::Envelope {
        let e = ev::BookingStatusChanged {
            booking_number: "BK1".into(),
            customer_id: "alice".into(),
            screening_id: "s".into(),
            seat_ids: vec!["A-1".into()],
            status: status.into(),
            version,
            ..Default::default()
        };
        envelope(topics::BOOKING_STATUS_CHANGED, version, &e)
    }

    /// The events of one booked-then-cancelled booking, with stream sequences.
    fn history() -> Vec<(ev::Envelope, u64)> {
        let held = ev::SeatsHeld { booking_number: "BK1".into(), seat_ids: vec!["A-1".into()], ..Default::default() };
        let sold = ev::SeatsSold { booking_number: "BK1".into(), seat_ids: vec!["A-1".into()], ..Default::default() };
        let released =
            ev::SeatsReleased { booking_number: "BK1".into(), seat_ids: vec!["A-1".into()], ..Default::default() };
        let money = Some(Money { currency: "KRW".into(), amount: 12_000 });
        let captured = ev::PaymentCaptured {
            payment_id: "P1".into(),
            booking_number: "BK1".into(),
            amount: money.clone(),
            ..Default::default()
        };
        let refunded = ev::PaymentRefunded {
            payment_id: "P1".into(),
            booking_number: "BK1".into(),
            amount: money,
            ..Default::default()
        };
        vec![
            (status_changed(BookingStatus::Pending, 1), 1),
            (envelope(topics::SEATS_HELD, 1, &held), 1),
            (envelope(topics::PAYMENT_CAPTURED, 1, &captured), 1),
            (envelope(topics::SEATS_SOLD, 2, &sold), 2),
            (status_changed(BookingStatus::Confirmed, 2), 2),
            (status_changed(BookingStatus::Cancelling, 3), 3),
            (envelope(topics::PAYMENT_REFUNDED, 2, &refunded), 2),
            (envelope(topics::SEATS_RELEASED, 3, &released), 3),
            (status_changed(BookingStatus::Cancelled, 4), 4),
        ]
    }

    fn fold<'a>(events: impl IntoIterator<Item = &'a (ev::Envelope, u64)>) -> BookingView {
        events.into_iter().fold(BookingView::default(), |view, (e, seq)| {
            view.join(&fact(e, *seq).expect("readable").expect("used").view)
        })
    }

    #[test]
    fn a_booking_and_its_cancellation_fold_into_one_view() {
        let view = fold(&history());
        let booking = view.render("BK1", 9).expect("the booking part arrived");
        assert_eq!(booking.status(), BookingStatus::Cancelled);
        assert_eq!(booking.payment_status(), pb::PaymentStatus::Refunded);
        assert_eq!(booking.seats_status(), pb::SeatsStatus::Released);
        assert_eq!(booking.version, 4);
        assert_eq!(booking.payment_id, "P1", "the payment part fills in what the booking part lacks");
        assert_eq!(booking.amount.map(|m| m.amount), Some(12_000));
        assert_eq!(booking.revision, 9);
    }

    #[test]
    fn any_order_any_repeats_same_view() {
        let events = history();
        let expected = fold(&events);
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(fold(&reversed), expected, "reversed");
        let twice: Vec<_> = events.iter().chain(events.iter()).cloned().collect();
        assert_eq!(fold(&twice), expected, "replayed");
        // A deterministic shuffle: every rotation and interleaving by stream.
        for k in 0..events.len() {
            let mut rotated = events.clone();
            rotated.rotate_left(k);
            assert_eq!(fold(&rotated), expected, "rotated by {k}");
        }
    }

    #[test]
    fn join_is_a_semilattice() {
        let events = history();
        let (a, b, c) = (fold(&events[..3]), fold(&events[3..6]), fold(&events[6..]));
        assert_eq!(a.join(&b), b.join(&a), "commutative");
        assert_eq!(a.join(&b).join(&c), a.join(&b.join(&c)), "associative");
        assert_eq!(a.join(&a), a, "idempotent");
    }

    #[test]
    fn a_hold_sold_after_it_was_released_reads_sold() {
        // The sweeper released the expired hold, then confirming sold the still-free seats.
        let released = ev::SeatsReleased { booking_number: "BK1".into(), ..Default::default() };
        let sold = ev::SeatsSold { booking_number: "BK1".into(), ..Default::default() };
        let view =
            fold(&[(envelope(topics::SEATS_RELEASED, 3, &released), 7), (envelope(topics::SEATS_SOLD, 2, &sold), 8)]);
        assert_eq!(view.seats.map(|s| s.value.status), Some(SeatsState::Sold));
    }

    #[test]
    fn no_booking_part_renders_nothing_yet() {
        let captured = ev::PaymentCaptured { booking_number: "BK1".into(), ..Default::default() };
        let view = fold(&[(envelope(topics::PAYMENT_CAPTURED, 1, &captured), 1)]);
        assert!(view.render("BK1", 1).is_none());
        assert_eq!(view.version(), 0);
    }

    #[test]
    fn json_round_trips() {
        let view = fold(&history());
        assert_eq!(BookingView::from_json(&view.to_json()).expect("json"), view);
    }

    #[test]
    fn unknown_events_are_not_used_and_garbage_is_unreadable() {
        let other = envelope(topics::SCREENING_SCHEDULED, 1, &ev::ScreeningScheduled::default());
        assert!(fact(&other, 1).expect("readable").is_none());
        let mut garbage = status_changed(BookingStatus::Pending, 1);
        garbage.payload = vec![0xff, 0xff, 0xff];
        assert!(matches!(fact(&garbage, 1), Err(Unreadable::Payload { .. })));
    }
}
