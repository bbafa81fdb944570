"""The AsyncClient against the live stack: the same verbs on grpc.aio."""

from __future__ import annotations

import uuid

import grpc
import pytest
from conftest import Screening, Stack

from cinema_client import AsyncClient, BookingStatus, CinemaError, seats_pb2

CONFIRMED = BookingStatus.BOOKING_STATUS_CONFIRMED


def client(stack: Stack, token: str | None = None) -> AsyncClient:
    return AsyncClient(stack.target, token=token or stack.token)


@pytest.mark.asyncio
async def test_book_two_seats_watch_and_cancel(stack: Stack, screening: Screening) -> None:
    seats = screening.seats(2)

    async with client(stack) as c:
        booking = await c.book(screening.screening_id, seats, "tok_visa")
        assert booking.status == CONFIRMED, booking
        assert sorted(booking.seat_ids) == sorted(seats)

        watched = [b.status async for b in _until_confirmed(c, booking.booking_number)]
        assert watched[-1] == CONFIRMED

        cancelled = await c.cancel(booking.booking_number)
        assert cancelled.status == BookingStatus.BOOKING_STATUS_CANCELLED
        assert (await c.get_booking(booking.booking_number)).status == cancelled.status


async def _until_confirmed(c: AsyncClient, number: str):  # type: ignore[no-untyped-def]
    stream = c.watch(number, timeout=10)
    async for booking in stream:
        yield booking
        if booking.status == CONFIRMED:
            break
    await stream.aclose()


@pytest.mark.asyncio
async def test_refusals(stack: Stack, screening: Screening) -> None:
    async with client(stack) as kim, client(stack, stack.other_token) as lee:
        with pytest.raises(CinemaError) as bad:
            await kim.book(screening.screening_id, [], "tok_visa")
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in bad.value.field_violations] == ["seat_ids"]

        declined = await kim.book(screening.screening_id, screening.seats(1), "tok_decline")
        assert declined.status == BookingStatus.BOOKING_STATUS_REJECTED
        assert declined.reason

        with pytest.raises(CinemaError) as other:
            await lee.get_booking(declined.booking_number)
        assert other.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.asyncio
async def test_the_same_request_id_is_the_same_booking(stack: Stack, screening: Screening) -> None:
    seats, request_id = screening.seats(1), str(uuid.uuid4())

    async with client(stack) as c:
        first = await c.book(screening.screening_id, seats, "tok_visa", request_id=request_id)
        second = await c.book(screening.screening_id, seats, "tok_visa", request_id=request_id)

    assert first.status == CONFIRMED
    assert second.booking_number == first.booking_number


@pytest.mark.asyncio
async def test_watch_seat_map_shows_a_booking(stack: Stack, screening: Screening) -> None:
    (seat,) = screening.seats(1)

    def status(seat_map: seats_pb2.SeatMap) -> int:
        return next(s.status for s in seat_map.seats if s.seat_id == seat)

    async with client(stack) as c:
        updates = c.watch_seat_map(screening.screening_id, timeout=15)
        first = await anext(updates)
        assert status(first) == seats_pb2.SEAT_STATUS_AVAILABLE

        await c.book(screening.screening_id, [seat], "tok_visa")

        async for seat_map in updates:
            if status(seat_map) == seats_pb2.SEAT_STATUS_SOLD:
                break
        else:
            pytest.fail("the seat map stream ended before the seat was sold")
        await updates.aclose()
