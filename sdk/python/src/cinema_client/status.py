"""Which booking statuses end a booking's story."""

from __future__ import annotations

from ._gen.cinema.common.v1.common_pb2 import BookingStatus

#: A booking in one of these stays there unless the customer acts (a CONFIRMED
#: booking can still be cancelled). PENDING, AWAITING_PAYMENT and CANCELLING are
#: on their way to one of them.
FINAL_STATUSES: frozenset[int] = frozenset(
    {
        BookingStatus.BOOKING_STATUS_CONFIRMED,
        BookingStatus.BOOKING_STATUS_REJECTED,
        BookingStatus.BOOKING_STATUS_EXPIRED,
        BookingStatus.BOOKING_STATUS_CANCELLED,
    }
)


def is_final(status: int) -> bool:
    return status in FINAL_STATUSES


def status_name(status: int) -> str:
    """`"CONFIRMED"` for BOOKING_STATUS_CONFIRMED."""
    try:
        return BookingStatus.Name(status).removeprefix("BOOKING_STATUS_")
    except ValueError:
        return str(status)
