"""Client: the gateway over a sync grpc.Channel, with the verbs the stubs cannot give
on their own (book with retries and follow-up, watch, cancel)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TypeVar

import grpc

from ._channel import channel
from ._gen.cinema.booking.v1 import booking_pb2
from ._gen.cinema.common.v1.common_pb2 import BookingStatus
from ._gen.cinema.reservation.v1 import reservation_pb2
from ._gen.cinema.seats.v1 import seats_pb2
from .errors import CinemaError
from .retry import DEFAULT_RETRY, RetryPolicy, backoff, is_retryable
from .services import Services
from .status import is_final, status_name

T = TypeVar("T")


class Client:
    """The cinema gateway (Envoy) over gRPC.

    `token` is sent as `authorization: Bearer <token>` on every call, the raw
    stubs' included; browsing (movies, screenings, seat maps) needs none. `secure`
    uses TLS with the system's roots; pass `credentials` (e.g.
    `grpc.ssl_channel_credentials(open("ca.pem", "rb").read())`) for another CA.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:8080",
        token: str | None = None,
        secure: bool = False,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        follow_timeout: float = 60.0,
    ) -> None:
        self.channel = channel(target, token, secure, credentials)
        #: The generated stubs of the public services.
        self.services = Services.of(self.channel)
        self.retry = retry
        #: How long book() and cancel() follow a booking to its final status, in seconds.
        self.follow_timeout = follow_timeout

    def book(
        self,
        screening_id: str,
        seat_ids: Iterable[str],
        card_token: str,
        request_id: str | None = None,
    ) -> reservation_pb2.Booking:
        """Books seats and pays, and returns the booking in its final status
        (CONFIRMED, REJECTED with its reason, EXPIRED or CANCELLED).

        BookTickets is retried on UNAVAILABLE, and on RESOURCE_EXHAUSTED with RetryInfo,
        with the same request id every time (a fresh UUID when none is given): a retried
        booking is the same booking. A PENDING or AWAITING_PAYMENT answer is followed
        with WatchBooking. Bad input raises CinemaError (INVALID_ARGUMENT).
        """
        request = book_request(screening_id, seat_ids, card_token, request_id)
        result = self._retrying(
            lambda timeout: self.services.booking.BookTickets(request, timeout=timeout)
        )
        return self._follow(result.booking_number, lambda b: is_final(b.status))

    def cancel(self, booking_number: str, reason: str = "") -> reservation_pb2.Booking:
        """Cancels a CONFIRMED booking (retried like book; a second cancel answers the
        same) and returns it once CANCELLED."""
        request = booking_pb2.CancelBookingRequest(booking_number=booking_number, reason=reason)
        self._retrying(
            lambda timeout: self.services.booking.CancelBooking(request, timeout=timeout)
        )
        # The view may still show CONFIRMED for a few milliseconds: wait for CANCELLED.
        return self._follow(
            booking_number, lambda b: b.status == BookingStatus.BOOKING_STATUS_CANCELLED
        )

    def get_booking(self, booking_number: str, min_version: int = 0) -> reservation_pb2.Booking:
        request = reservation_pb2.GetBookingRequest(
            booking_number=booking_number, min_version=min_version
        )
        return _mapped(lambda: self.services.booking_query.GetBooking(request))

    def list_bookings(
        self, customer_id: str, page_size: int = 0, page_token: str = ""
    ) -> reservation_pb2.ListBookingsResponse:
        """One page, newest first; pass `next_page_token` back for the next."""
        request = reservation_pb2.ListBookingsRequest(
            customer_id=customer_id, page_size=page_size, page_token=page_token
        )
        return _mapped(lambda: self.services.booking_query.ListBookings(request))

    def watch(
        self, booking_number: str, timeout: float | None = None
    ) -> Generator[reservation_pb2.Booking, None, None]:
        """The booking now and on every change. The server ends the stream at REJECTED,
        EXPIRED or CANCELLED; stop iterating to end it earlier."""
        request = reservation_pb2.WatchBookingRequest(booking_number=booking_number)
        return _stream(self.services.booking_query.WatchBooking(request, timeout=timeout))

    def watch_seat_map(
        self, screening_id: str, timeout: float | None = None
    ) -> Generator[seats_pb2.SeatMap, None, None]:
        """The seat map now and on every change. The server ends the stream when the
        screening starts, after an hour, or when it drains: watch again to go on."""
        request = seats_pb2.WatchSeatMapRequest(screening_id=screening_id)
        return _stream(self.services.seats.WatchSeatMap(request, timeout=timeout))

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _retrying(self, attempt: Callable[[float], T]) -> T:
        """Runs `attempt` (given the seconds left) until it succeeds, fails with an error
        not worth retrying, or the policy's attempts or deadline run out."""
        deadline = time.monotonic() + self.retry.deadline
        n = 0
        while True:
            n += 1
            try:
                return attempt(max(0.001, deadline - time.monotonic()))
            except grpc.RpcError as e:
                error = CinemaError.from_rpc_error(e)
                if not is_retryable(error) or n >= self.retry.max_attempts:
                    raise error from e
                wait = backoff(n, self.retry, error.retry_delay)
                if time.monotonic() + wait >= deadline:
                    raise error from e
            time.sleep(wait)

    def _follow(
        self, booking_number: str, done: Callable[[reservation_pb2.Booking], bool]
    ) -> reservation_pb2.Booking:
        """Follows a booking through WatchBooking until `done`, watching again when the
        stream ends early or the gateway is unavailable, within follow_timeout."""
        follow = _Follow(booking_number, self.follow_timeout)
        attempt = 0
        while True:
            attempt += 1
            stream = self.watch(booking_number, timeout=follow.remaining())
            try:
                for booking in stream:
                    follow.last = booking
                    if done(booking):
                        return booking
            except CinemaError as error:
                follow.check(error)
            finally:
                stream.close()
            wait = backoff(min(attempt, 6), self.retry)
            follow.before_waiting(wait)
            time.sleep(wait)


class _Follow:
    """The deadline and the last booking seen while following one (sync and asyncio)."""

    def __init__(self, booking_number: str, timeout: float) -> None:
        self.booking_number = booking_number
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.last: reservation_pb2.Booking | None = None

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return left

    def check(self, error: CinemaError) -> None:
        """Raises unless the error is worth watching again."""
        if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() >= self.deadline:
            raise self.timed_out() from error
        if not is_retryable(error):
            raise error

    def before_waiting(self, wait: float) -> None:
        if time.monotonic() + wait >= self.deadline:
            raise self.timed_out()

    def timed_out(self) -> CinemaError:
        seen = status_name(self.last.status) if self.last else "unseen"
        return CinemaError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"booking {self.booking_number} is still {seen} after {self.timeout:g} s",
        )


def book_request(
    screening_id: str, seat_ids: Iterable[str], card_token: str, request_id: str | None
) -> booking_pb2.BookTicketsRequest:
    return booking_pb2.BookTicketsRequest(
        request_id=request_id or str(uuid.uuid4()),
        screening_id=screening_id,
        seat_ids=list(seat_ids),
        payment=booking_pb2.PaymentMethod(card_token=card_token),
    )


def _mapped(call: Callable[[], T]) -> T:
    try:
        return call()
    except grpc.RpcError as e:
        raise CinemaError.from_rpc_error(e) from e


def _stream(call: Iterator[T]) -> Generator[T, None, None]:
    """A server stream whose errors are CinemaError, cancelled when the consumer stops early."""
    try:
        yield from call
    except grpc.RpcError as e:
        raise CinemaError.from_rpc_error(e) from e
    finally:
        call.cancel()  # type: ignore[attr-defined]
