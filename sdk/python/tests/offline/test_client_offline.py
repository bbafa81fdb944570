"""The client's retries, follow-up and error decoding, against an in-process fake
gateway: no stack needed. `PYTHONPATH=sdk/python/src python -m pytest sdk/python/tests/offline`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from fake_gateway import FakeGateway, Refusal

from cinema_client import AsyncClient, BookingStatus, CinemaError, Client, RetryPolicy
from cinema_client.retry import backoff

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, deadline=5.0)
UNAVAILABLE = Refusal(grpc.StatusCode.UNAVAILABLE, "upstream connect error")


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway().start()
    yield fake
    fake.stop()


def client(gateway: FakeGateway) -> Client:
    return Client(gateway.target, token="tok-kim", retry=FAST, follow_timeout=5)


def test_book_retries_unavailable_with_the_same_request_id(gateway: FakeGateway) -> None:
    gateway.refusals = [UNAVAILABLE, UNAVAILABLE]

    with client(gateway) as c:
        booking = c.book("scr-1", ["A-1", "A-2"], "tok_visa")

    assert booking.status == BookingStatus.BOOKING_STATUS_CONFIRMED
    ids = {r.request_id for r in gateway.book_requests}
    assert len(gateway.book_requests) == 3 and len(ids) == 1 and ids != {""}
    # Three BookTickets and one WatchBooking, all with the token.
    assert gateway.authorizations == ["Bearer tok-kim"] * 4


def test_book_keeps_the_request_id_it_is_given(gateway: FakeGateway) -> None:
    with client(gateway) as c:
        c.book("scr-1", ["A-1"], "tok_visa", request_id="r-42")

    assert [r.request_id for r in gateway.book_requests] == ["r-42"]


def test_book_stops_watching_at_confirmed(gateway: FakeGateway) -> None:
    with client(gateway) as c:
        c.book("scr-1", ["A-1"], "tok_visa")

    # The fake's stream stays open after CONFIRMED, as the real one does.
    assert gateway.watch_cancelled.wait(timeout=5), "the watch was not cancelled"


def test_book_gives_up_after_max_attempts(gateway: FakeGateway) -> None:
    gateway.refusals = [UNAVAILABLE] * 10

    with client(gateway) as c, pytest.raises(CinemaError) as raised:
        c.book("scr-1", ["A-1"], "tok_visa")

    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert len(gateway.book_requests) == FAST.max_attempts


def test_resource_exhausted_is_retried_after_the_retry_delay(gateway: FakeGateway) -> None:
    gateway.refusals = [
        Refusal(
            grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", reason="SCREENING_BUSY", retry_delay=0.3
        )
    ]

    with client(gateway) as c:
        started = time.monotonic()
        c.book("scr-1", ["A-1"], "tok_visa")

    assert len(gateway.book_requests) == 2
    assert time.monotonic() - started >= 0.3


def test_resource_exhausted_without_retry_info_is_not_retried(gateway: FakeGateway) -> None:
    gateway.refusals = [Refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")]

    with client(gateway) as c, pytest.raises(CinemaError) as raised:
        c.book("scr-1", ["A-1"], "tok_visa")

    assert raised.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert raised.value.retry_delay is None
    assert len(gateway.book_requests) == 1


def test_error_details_are_decoded(gateway: FakeGateway) -> None:
    gateway.refusals = [
        Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            "seat_ids: must not be empty",
            reason="BAD_SEATS",
            violations=[("seat_ids", "must not be empty"), ("screening_id", "not a UUID")],
        )
    ]

    with client(gateway) as c, pytest.raises(CinemaError) as raised:
        c.book("nope", [], "tok_visa")

    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "seat_ids: must not be empty"
    assert error.reason == "BAD_SEATS"
    assert error.field_violations == [
        ("seat_ids", "must not be empty"),
        ("screening_id", "not a UUID"),
    ]
    assert error.field_violations[0].field == "seat_ids"
    assert len(gateway.book_requests) == 1


def test_follow_gives_up_at_its_timeout(gateway: FakeGateway) -> None:
    gateway.statuses = [BookingStatus.BOOKING_STATUS_AWAITING_PAYMENT]

    with (
        Client(gateway.target, retry=FAST, follow_timeout=0.5) as c,
        pytest.raises(CinemaError) as raised,
    ):
        c.book("scr-1", ["A-1"], "tok_visa")

    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "still AWAITING_PAYMENT" in raised.value.message


@pytest.mark.asyncio
async def test_async_book_retries_with_the_same_request_id(gateway: FakeGateway) -> None:
    gateway.refusals = [UNAVAILABLE, UNAVAILABLE]

    async with AsyncClient(gateway.target, token="tok-kim", retry=FAST, follow_timeout=5) as c:
        booking = await c.book("scr-1", ["A-1"], "tok_visa")

    assert booking.status == BookingStatus.BOOKING_STATUS_CONFIRMED
    assert len({r.request_id for r in gateway.book_requests}) == 1
    assert gateway.authorizations == ["Bearer tok-kim"] * 4
    assert gateway.watch_cancelled.wait(timeout=5)


@pytest.mark.asyncio
async def test_async_errors_are_decoded(gateway: FakeGateway) -> None:
    gateway.refusals = [
        Refusal(grpc.StatusCode.INVALID_ARGUMENT, "bad", violations=[("seat_ids", "empty")])
    ]

    async with AsyncClient(gateway.target, retry=FAST) as c:
        with pytest.raises(CinemaError) as raised:
            await c.book("scr-1", [], "tok_visa")

    assert raised.value.field_violations == [("seat_ids", "empty")]


def test_backoff_grows_is_capped_and_honours_retry_info() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0)
    lowest, highest = (lambda: 0.0), (lambda: 1.0)

    assert backoff(1, policy, rand=lowest) == pytest.approx(0.05)
    assert backoff(1, policy, rand=highest) == pytest.approx(0.1)
    assert backoff(3, policy, rand=highest) == pytest.approx(0.4)
    assert backoff(10, policy, rand=highest) == pytest.approx(1.0)
    assert backoff(1, policy, retry_delay=2.0, rand=lowest) == pytest.approx(2.0)
    assert backoff(1, policy, retry_delay=2.0, rand=highest) == pytest.approx(2.1)
