"""The sync Client against the live stack: book, watch, cancel, refusals, idempotency."""

from __future__ import annotations

import uuid

import grpc
import pytest
from conftest import Screening, Stack, poll

from cinema_client import BookingStatus, CinemaError, booking_pb2, seats_pb2

CONFIRMED = BookingStatus.BOOKING_STATUS_CONFIRMED


def test_book_two_seats_is_confirmed(stack: Stack, screening: Screening) -> None:
    seats = screening.seats(2)

    with stack.client() as client:
        booking = client.book(screening.screening_id, seats, "tok_visa")

    assert booking.status == CONFIRMED, booking
    assert booking.booking_number.startswith("BK")
    assert sorted(booking.seat_ids) == sorted(seats)
    assert booking.customer_id == stack.customer_id
    assert (booking.amount.currency, booking.amount.amount) == ("KRW", 24000)


def test_watch_follows_a_booking_to_confirmed(stack: Stack, screening: Screening) -> None:
    with stack.client() as client:
        # The raw stub answers at once (CONFIRMED or PENDING); the watch follows it.
        result = client.services.booking.BookTickets(
            booking_pb2.BookTicketsRequest(
                request_id=str(uuid.uuid4()),
                screening_id=screening.screening_id,
                seat_ids=screening.seats(1),
                payment=booking_pb2.PaymentMethod(card_token="tok_visa"),
            ),
            timeout=10,
        )
        seen = []
        for booking in client.watch(result.booking_number, timeout=10):
            seen.append(booking.status)
            if booking.status == CONFIRMED:
                break

    assert seen[-1] == CONFIRMED, seen


def test_cancel_ends_cancelled(stack: Stack, screening: Screening) -> None:
    with stack.client() as client:
        booking = client.book(screening.screening_id, screening.seats(1), "tok_visa")
        assert booking.status == CONFIRMED, booking

        cancelled = client.cancel(booking.booking_number, reason="plans changed")

        assert cancelled.status == BookingStatus.BOOKING_STATUS_CANCELLED
        again = client.get_booking(booking.booking_number)
        assert again.status == BookingStatus.BOOKING_STATUS_CANCELLED


def test_bad_input_lists_every_field_violation(stack: Stack) -> None:
    with stack.client() as client, pytest.raises(CinemaError) as raised:
        client.book("not-a-screening", [], "tok_visa")

    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = {field for field, _ in error.field_violations}
    assert {"screening_id", "seat_ids"} <= fields, error.field_violations
    assert all(description for _, description in error.field_violations)


def test_another_customer_gets_not_found(stack: Stack, screening: Screening) -> None:
    with stack.client() as kim:
        booking = kim.book(screening.screening_id, screening.seats(1), "tok_visa")

    with stack.client(stack.other_token) as lee:
        with pytest.raises(CinemaError) as read:
            lee.get_booking(booking.booking_number)
        with pytest.raises(CinemaError) as cancel:
            lee.cancel(booking.booking_number)

    assert read.value.code == grpc.StatusCode.NOT_FOUND
    assert cancel.value.code == grpc.StatusCode.NOT_FOUND


def test_a_declined_card_is_rejected_with_a_reason(stack: Stack, screening: Screening) -> None:
    seats = screening.seats(1)

    with stack.client() as client:
        booking = client.book(screening.screening_id, seats, "tok_decline")

    assert booking.status == BookingStatus.BOOKING_STATUS_REJECTED, booking
    assert booking.reason


def test_the_same_request_id_is_the_same_booking(stack: Stack, screening: Screening) -> None:
    seats, request_id = screening.seats(1), str(uuid.uuid4())

    with stack.client() as client:
        first = client.book(screening.screening_id, seats, "tok_visa", request_id=request_id)
        second = client.book(screening.screening_id, seats, "tok_visa", request_id=request_id)
        listed = client.list_bookings(stack.customer_id, page_size=100)

    assert first.status == CONFIRMED, first
    assert second.booking_number == first.booking_number
    assert second.status == CONFIRMED
    assert [b.booking_number for b in listed.bookings].count(first.booking_number) == 1


def test_watch_seat_map_shows_a_booking(stack: Stack, screening: Screening) -> None:
    (seat,) = screening.seats(1)

    def status(seat_map: seats_pb2.SeatMap) -> int:
        return next(s.status for s in seat_map.seats if s.seat_id == seat)

    with stack.client() as client:
        updates = client.watch_seat_map(screening.screening_id, timeout=15)
        first = next(updates)
        assert first.screening_id == screening.screening_id
        assert status(first) == seats_pb2.SEAT_STATUS_AVAILABLE

        client.book(screening.screening_id, [seat], "tok_visa")

        sold = next(m for m in updates if status(m) == seats_pb2.SEAT_STATUS_SOLD)
        updates.close()

    assert sold.available < first.available


def test_list_bookings_pages(stack: Stack, screening: Screening) -> None:
    with stack.client() as client:
        booking = client.book(screening.screening_id, screening.seats(1), "tok_visa")
        found = poll(
            lambda: client.list_bookings(stack.customer_id, page_size=100),
            until=lambda page: any(
                b.booking_number == booking.booking_number for b in page.bookings
            ),
            what="the new booking in the customer's list",
        )

    assert found.bookings[0].created_at.seconds >= booking.created_at.seconds - 1
