//! The booking saga as a pure transition table: no I/O, cannot fail.
//!
//! A [`State`] names the step to run next (or a terminal state). The runner
//! runs [`State::step`], turns the participant's answer into an [`Outcome`],
//! and moves to [`State::next`]. Transient failures never reach this table:
//! the runner retries them.
//!
//! ```text
//! state                   on Done                 on Refused (business "no")
//! CreatingReservation     HoldingSeats            Releasing        (the hold beside it)
//! HoldingSeats            Charging                Rejecting
//! Charging                ConfirmingSeats         Releasing        (declined)
//!   on Deferred (payment unavailable: keep the hold)  MarkingAwaitingPayment
//!   on Expired (the hold expired before payment)      ExpiringRelease
//! MarkingAwaitingPayment  AwaitingPayment         AwaitingPayment
//! AwaitingPayment         ConfirmingSeats         Releasing        (Deferred: retry later; Expired as above)
//! ExpiringRelease         ExpiringReservation     ExpiringReservation
//! ExpiringReservation     Expired                 Expired
//! ConfirmingSeats         ConfirmingReservation   Refunding        (hold expired)
//! ConfirmingReservation   Confirmed               Refunding
//! Refunding               Releasing               Releasing
//! Releasing               Rejecting               Rejecting
//! Rejecting               Rejected                Rejected
//! Confirmed  --cancel-->  MarkingCancelling
//! MarkingCancelling       CancelRefunding         CancelRefunding
//! CancelRefunding         CancelReleasing         CancelReleasing
//! CancelReleasing         CancellingReservation   CancellingReservation
//! CancellingReservation   Cancelled               Cancelled
//!
//! operator abort (ForceCompensate), from a forward state only:
//! CreatingReservation  --abort-->  Releasing
//! HoldingSeats         --abort-->  Releasing
//! Charging, MarkingAwaitingPayment, AwaitingPayment,
//! ConfirmingSeats, ConfirmingReservation  --abort-->  Refunding
//! ```
//! The runner holds the seats beside CreateReservation (neither needs the other)
//! and records that answer as HoldingSeats's: a refused or aborted
//! CreateReservation is released too, since its seats may be held.
//! An abort undoes the current step too: an attempt that failed transiently
//! may still have taken effect, and undoing what was not done is a no-op.
//! Compensations are never skipped: a participant that refuses one says there
//! is nothing to undo, so the saga moves on.

use cinema_proto::common::v1::BookingStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    CreatingReservation,
    HoldingSeats,
    Charging,
    MarkingAwaitingPayment,
    AwaitingPayment,
    ConfirmingSeats,
    ConfirmingReservation,
    Confirmed,
    ExpiringRelease,
    ExpiringReservation,
    Expired,
    Refunding,
    Releasing,
    Rejecting,
    Rejected,
    MarkingCancelling,
    CancelRefunding,
    CancelReleasing,
    CancellingReservation,
    Cancelled,
}

/// The participant call a state runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    CreateReservation,
    HoldSeats,
    Charge,
    ConfirmSeats,
    ConfirmReservation,
    Refund,
    ReleaseSeats,
    RejectReservation,
    AwaitPayment,
    ExpireReservation,
    BeginCancellation,
    CancelReservation,
}

/// What a step's participant answered (after transient retries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Refused,
    /// Payment is unavailable (breaker open, overloaded, down): keep the hold
    /// and try again later. Only the payment steps answer this.
    Deferred,
    /// The seat hold expired before payment. Only the payment steps answer this.
    Expired,
}

pub const ALL: [State; 20] = [
    State::CreatingReservation,
    State::HoldingSeats,
    State::Charging,
    State::MarkingAwaitingPayment,
    State::AwaitingPayment,
    State::ConfirmingSeats,
    State::ConfirmingReservation,
    State::Confirmed,
    State::ExpiringRelease,
    State::ExpiringReservation,
    State::Expired,
    State::Refunding,
    State::Releasing,
    State::Rejecting,
    State::Rejected,
    State::MarkingCancelling,
    State::CancelRefunding,
    State::CancelReleasing,
    State::CancellingReservation,
    State::Cancelled,
];

impl State {
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Confirmed | State::Rejected | State::Expired | State::Cancelled)
    }

    /// On the way to CONFIRMED (nothing to undo has started yet).
    pub fn is_forward(self) -> bool {
        use State::*;
        matches!(
            self,
            CreatingReservation
                | HoldingSeats
                | Charging
                | MarkingAwaitingPayment
                | AwaitingPayment
                | ConfirmingSeats
                | ConfirmingReservation
        )
    }

    /// The step to run, or `None` in a terminal state.
    pub fn step(self) -> Option<Step> {
        use State::*;
        Some(match self {
            CreatingReservation => Step::CreateReservation,
            HoldingSeats => Step::HoldSeats,
            Charging | AwaitingPayment => Step::Charge,
            MarkingAwaitingPayment => Step::AwaitPayment,
            ExpiringRelease => Step::ReleaseSeats,
            ExpiringReservation => Step::ExpireReservation,
            ConfirmingSeats => Step::ConfirmSeats,
            ConfirmingReservation => Step::ConfirmReservation,
            Refunding | CancelRefunding => Step::Refund,
            Releasing | CancelReleasing => Step::ReleaseSeats,
            Rejecting => Step::RejectReservation,
            MarkingCancelling => Step::BeginCancellation,
            CancellingReservation => Step::CancelReservation,
            Confirmed | Rejected | Expired | Cancelled => return None,
        })
    }

    /// The state after this state's step ended with `outcome`.
    pub fn next(self, outcome: Outcome) -> State {
        use Outcome::*;
        use State::*;
        match (self, outcome) {
            (CreatingReservation, Done) => HoldingSeats,
            // HoldSeats ran beside it: release what it may have held.
            (CreatingReservation, Refused) => Releasing,
            (HoldingSeats, Done) => Charging,
            (HoldingSeats, Refused) => Rejecting,
            (Charging | AwaitingPayment, Done) => ConfirmingSeats,
            (Charging | AwaitingPayment, Refused) => Releasing,
            (Charging, Deferred) => MarkingAwaitingPayment,
            (AwaitingPayment, Deferred) => AwaitingPayment,
            (Charging | AwaitingPayment, Outcome::Expired) => ExpiringRelease,
            (MarkingAwaitingPayment, _) => AwaitingPayment,
            (ExpiringRelease, _) => ExpiringReservation,
            (ExpiringReservation, _) => State::Expired,
            (ConfirmingSeats, Done) => ConfirmingReservation,
            (ConfirmingSeats, Refused) => Refunding,
            (ConfirmingReservation, Done) => Confirmed,
            (ConfirmingReservation, Refused) => Refunding,
            (Refunding, _) => Releasing,
            (Releasing, _) => Rejecting,
            (Rejecting, _) => Rejected,
            (MarkingCancelling, _) => CancelRefunding,
            (CancelRefunding, _) => CancelReleasing,
            (CancelReleasing, _) => CancellingReservation,
            (CancellingReservation, _) => Cancelled,
            (terminal @ (Confirmed | Rejected | State::Expired | Cancelled), _) => terminal,
            // Only payment answers Deferred or Expired; anywhere else they mean "no".
            (other, Deferred | Outcome::Expired) => other.next(Refused),
        }
    }

    /// The state a cancel request moves to, if this state can be cancelled.
    pub fn cancel(self) -> Option<State> {
        match self {
            State::Confirmed => Some(State::MarkingCancelling),
            State::MarkingCancelling
            | State::CancelRefunding
            | State::CancelReleasing
            | State::CancellingReservation
            | State::Cancelled => Some(self),
            _ => None,
        }
    }

    /// The state an operator's abort (ForceCompensate) moves to: the
    /// compensation of this step and every step before it. `None` unless the
    /// saga is on its way to CONFIRMED (terminal, or already undoing).
    pub fn abort(self) -> Option<State> {
        use State::*;
        match self {
            // HoldSeats runs beside CreateReservation.
            CreatingReservation | HoldingSeats => Some(Releasing),
            Charging | MarkingAwaitingPayment | AwaitingPayment | ConfirmingSeats | ConfirmingReservation => {
                Some(Refunding)
            }
            _ => None,
        }
    }

    /// Undoing its steps: after a refusal, an expiry, a cancel or an abort.
    pub fn is_compensating(self) -> bool {
        !self.is_forward() && !self.is_terminal()
    }

    /// What the customer sees.
    pub fn status(self) -> BookingStatus {
        use State::*;
        match self {
            CreatingReservation | HoldingSeats | Charging | ConfirmingSeats | ConfirmingReservation => {
                BookingStatus::Pending
            }
            Refunding | Releasing | Rejecting => BookingStatus::Pending,
            MarkingAwaitingPayment | AwaitingPayment | ExpiringRelease | ExpiringReservation => {
                BookingStatus::AwaitingPayment
            }
            Expired => BookingStatus::Expired,
            Confirmed => BookingStatus::Confirmed,
            Rejected => BookingStatus::Rejected,
            MarkingCancelling | CancelRefunding | CancelReleasing | CancellingReservation => BookingStatus::Cancelling,
            Cancelled => BookingStatus::Cancelled,
        }
    }

    pub fn as_str(self) -> &'static str {
        use State::*;
        match self {
            CreatingReservation => "CREATING_RESERVATION",
            HoldingSeats => "HOLDING_SEATS",
            Charging => "CHARGING",
            MarkingAwaitingPayment => "MARKING_AWAITING_PAYMENT",
            AwaitingPayment => "AWAITING_PAYMENT",
            ExpiringRelease => "EXPIRING_RELEASE",
            ExpiringReservation => "EXPIRING_RESERVATION",
            Expired => "EXPIRED",
            ConfirmingSeats => "CONFIRMING_SEATS",
            ConfirmingReservation => "CONFIRMING_RESERVATION",
            Confirmed => "CONFIRMED",
            Refunding => "REFUNDING",
            Releasing => "RELEASING",
            Rejecting => "REJECTING",
            Rejected => "REJECTED",
            MarkingCancelling => "MARKING_CANCELLING",
            CancelRefunding => "CANCEL_REFUNDING",
            CancelReleasing => "CANCEL_RELEASING",
            CancellingReservation => "CANCELLING_RESERVATION",
            Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<State> {
        ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl Step {
    /// The idempotency-key suffix: `{booking_number}/{step}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateReservation => "create-reservation",
            Step::HoldSeats => "hold-seats",
            Step::Charge => "charge",
            Step::ConfirmSeats => "confirm-seats",
            Step::ConfirmReservation => "confirm-reservation",
            Step::Refund => "refund",
            Step::ReleaseSeats => "release-seats",
            Step::RejectReservation => "reject-reservation",
            Step::AwaitPayment => "await-payment",
            Step::ExpireReservation => "expire-reservation",
            Step::BeginCancellation => "begin-cancellation",
            Step::CancelReservation => "cancel-reservation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome::*;
    use super::State::*;
    use super::*;

    #[test]
    fn transition_table() {
        let table = [
            (CreatingReservation, Done, HoldingSeats),
            (CreatingReservation, Refused, Releasing),
            (HoldingSeats, Done, Charging),
            (HoldingSeats, Refused, Rejecting),
            (Charging, Done, ConfirmingSeats),
            (Charging, Refused, Releasing),
            (Charging, Deferred, MarkingAwaitingPayment),
            (Charging, Outcome::Expired, ExpiringRelease),
            (MarkingAwaitingPayment, Done, AwaitingPayment),
            (MarkingAwaitingPayment, Refused, AwaitingPayment),
            (AwaitingPayment, Done, ConfirmingSeats),
            (AwaitingPayment, Refused, Releasing),
            (AwaitingPayment, Deferred, AwaitingPayment),
            (AwaitingPayment, Outcome::Expired, ExpiringRelease),
            (ExpiringRelease, Done, ExpiringReservation),
            (ExpiringRelease, Refused, ExpiringReservation),
            (ExpiringReservation, Done, State::Expired),
            (ExpiringReservation, Refused, State::Expired),
            (HoldingSeats, Deferred, Rejecting),
            (ConfirmingSeats, Outcome::Expired, Refunding),
            (State::Expired, Done, State::Expired),
            (ConfirmingSeats, Done, ConfirmingReservation),
            (ConfirmingSeats, Refused, Refunding),
            (ConfirmingReservation, Done, Confirmed),
            (ConfirmingReservation, Refused, Refunding),
            (Refunding, Done, Releasing),
            (Refunding, Refused, Releasing),
            (Releasing, Done, Rejecting),
            (Releasing, Refused, Rejecting),
            (Rejecting, Done, Rejected),
            (Rejecting, Refused, Rejected),
            (MarkingCancelling, Done, CancelRefunding),
            (MarkingCancelling, Refused, CancelRefunding),
            (CancelRefunding, Done, CancelReleasing),
            (CancelRefunding, Refused, CancelReleasing),
            (CancelReleasing, Done, CancellingReservation),
            (CancelReleasing, Refused, CancellingReservation),
            (CancellingReservation, Done, Cancelled),
            (CancellingReservation, Refused, Cancelled),
            (Confirmed, Done, Confirmed),
            (Rejected, Refused, Rejected),
            (Cancelled, Done, Cancelled),
        ];
        for (from, outcome, to) in table {
            assert_eq!(from.next(outcome), to, "{from:?} + {outcome:?}");
        }
    }

    #[test]
    fn only_confirmed_bookings_cancel() {
        for state in ALL {
            let expected = match state {
                Confirmed => Some(MarkingCancelling),
                MarkingCancelling | CancelRefunding | CancelReleasing | CancellingReservation | Cancelled => {
                    Some(state)
                }
                _ => None,
            };
            assert_eq!(state.cancel(), expected, "{state:?}");
        }
    }

    #[test]
    fn operators_abort_only_forward_states() {
        for state in ALL {
            let expected = match state {
                CreatingReservation | HoldingSeats => Some(Releasing),
                Charging | MarkingAwaitingPayment | AwaitingPayment | ConfirmingSeats | ConfirmingReservation => {
                    Some(Refunding)
                }
                _ => None,
            };
            assert_eq!(state.abort(), expected, "{state:?}");
            assert_eq!(state.abort().is_some(), state.is_forward(), "{state:?}");
            if let Some(next) = state.abort() {
                assert!(next.is_compensating(), "{state:?} aborts into {next:?}");
                assert_eq!(next.status(), BookingStatus::Pending, "{state:?}: still PENDING while undoing");
            }
        }
    }

    #[test]
    fn names_round_trip_and_terminals_have_no_step() {
        for state in ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
            assert_eq!(state.step().is_none(), state.is_terminal());
        }
    }

    proptest::proptest! {
        /// Any sequence of outcomes, with or without a cancel once CONFIRMED,
        /// ends in a terminal state within a bounded number of steps, in which
        /// every completed step is kept (CONFIRMED) or compensated (REJECTED,
        /// CANCELLED): money refunded, seats released, reservation closed.
        #[test]
        fn every_run_terminates_and_compensates(
            outcomes in proptest::collection::vec(0u8..4, 0..40),
            cancel in proptest::bool::ANY,
            abort_after in proptest::option::of(0usize..12),
        ) {
            let mut state = CreatingReservation;
            let (mut created, mut held, mut charged) = (false, false, false);
            let (mut closed, mut released, mut refunded) = (false, false, false);
            let (mut cancelled_once, mut aborted) = (false, false);
            let mut outcomes = outcomes.into_iter().chain(std::iter::repeat(0));
            for i in 0..64 {
                if abort_after == Some(i) && let Some(next) = state.abort() {
                    // The step in flight may have taken effect: assume the worst.
                    match state.step() {
                        // HoldSeats runs beside CreateReservation.
                        Some(Step::CreateReservation) => (created, held) = (true, true),
                        Some(Step::HoldSeats) => held = true,
                        Some(Step::Charge) => charged = true,
                        _ => {}
                    }
                    aborted = true;
                    state = next;
                }
                if state == Confirmed && cancel && !cancelled_once {
                    cancelled_once = true;
                    state = state.cancel().expect("a confirmed booking can be cancelled");
                }
                let Some(step) = state.step() else { break };
                let outcome = match outcomes.next().unwrap_or(0) {
                    0 => Done,
                    1 => Refused,
                    2 => Deferred,
                    _ => Outcome::Expired,
                };
                match (step, outcome) {
                    (Step::CreateReservation, Done) => created = true,
                    // Refused, but the hold beside it may have been taken.
                    (Step::CreateReservation, _) => held = true,
                    (Step::HoldSeats, Done) => held = true,
                    (Step::Charge, Done) => charged = true,
                    (Step::RejectReservation | Step::ExpireReservation | Step::CancelReservation, _) => closed = true,
                    (Step::ReleaseSeats, _) => released = true,
                    (Step::Refund, _) => refunded = true,
                    _ => {}
                }
                state = state.next(outcome);
            }
            proptest::prop_assert!(state.is_terminal(), "ended in {state:?}");
            match state {
                _ if aborted => {
                    proptest::prop_assert_eq!(state, Rejected, "an aborted saga ends REJECTED");
                    proptest::prop_assert!(!charged || refunded, "charged and not refunded");
                    proptest::prop_assert!(!held || released, "held and not released");
                    proptest::prop_assert!(!created || closed, "reservation left open");
                }
                Confirmed => proptest::prop_assert!(
                    created && held && charged && !closed && !released && !refunded && !(cancel && cancelled_once)
                ),
                State::Expired => {
                    proptest::prop_assert!(!charged, "charged for an expired hold");
                    proptest::prop_assert!(!held || released, "held and not released");
                    proptest::prop_assert!(!created || closed, "reservation left open");
                }
                Rejected | Cancelled => {
                    proptest::prop_assert!(!charged || refunded, "charged and not refunded");
                    proptest::prop_assert!(!held || released, "held and not released");
                    proptest::prop_assert!(!created || closed, "reservation left open");
                    proptest::prop_assert_eq!(state == Cancelled, cancelled_once);
                }
                _ => unreachable!("terminal"),
            }
        }
    }
}
