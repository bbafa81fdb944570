"""AsyncClient: the same verbs as Client, on grpc.aio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import TypeVar

import grpc
import grpc.aio

from ._channel import aio_channel
from ._gen.cinema.booking.v1 import booking_pb2
from ._gen.cinema.common.v1.common_pb2 import BookingStatus
from ._gen.cinema.reservation.v1 import reservation_pb2
from ._gen.cinema.seats.v1 import seats_pb2
from .client import _Follow, book_request
from .errors import CinemaError
from .retry import DEFAULT_RETRY, RetryPolicy, backoff, is_retryable
from .services import AsyncServices
from .status import is_final

T = TypeVar("T")


class AsyncClient:
    """The cinema gateway over gRPC, for asyncio. See Client for the arguments.

    Create it inside a running event loop; `async with AsyncClient() as client:` closes it.
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
        self.channel = aio_channel(target, token, secure, credentials)
        self.services = AsyncServices.of(self.channel)
        self.retry = retry
        self.follow_timeout = follow_timeout

    async def book(
        self,
        screening_id: str,
        seat_ids: Iterable[str],
        card_token: str,
        request_id: str | None = None,
    ) -> reservation_pb2.Booking:
        """As Client.book: one request id for every attempt, then the final booking."""
        request = book_request(screening_id, seat_ids, card_token, request_id)
        result = await self._retrying(
            lambda timeout: self.services.booking.BookTickets(request, timeout=timeout)
        )
        return await self._follow(result.booking_number, lambda b: is_final(b.status))

    async def cancel(self, booking_number: str, reason: str = "") -> reservation_pb2.Booking:
        request = booking_pb2.CancelBookingRequest(booking_number=booking_number, reason=reason)
        await self._retrying(
            lambda timeout: self.services.booking.CancelBooking(request, timeout=timeout)
        )
        return await self._follow(
            booking_number, lambda b: b.status == BookingStatus.BOOKING_STATUS_CANCELLED
        )

    async def get_booking(
        self, booking_number: str, min_version: int = 0
    ) -> reservation_pb2.Booking:
        request = reservation_pb2.GetBookingRequest(
            booking_number=booking_number, min_version=min_version
        )
        return await _mapped(self.services.booking_query.GetBooking(request))

    async def list_bookings(
        self, customer_id: str, page_size: int = 0, page_token: str = ""
    ) -> reservation_pb2.ListBookingsResponse:
        request = reservation_pb2.ListBookingsRequest(
            customer_id=customer_id, page_size=page_size, page_token=page_token
        )
        return await _mapped(self.services.booking_query.ListBookings(request))

    def watch(
        self, booking_number: str, timeout: float | None = None
    ) -> AsyncGenerator[reservation_pb2.Booking, None]:
        """The booking now and on every change, until REJECTED, EXPIRED or CANCELLED."""
        request = reservation_pb2.WatchBookingRequest(booking_number=booking_number)
        return _stream(self.services.booking_query.WatchBooking(request, timeout=timeout))

    def watch_seat_map(
        self, screening_id: str, timeout: float | None = None
    ) -> AsyncGenerator[seats_pb2.SeatMap, None]:
        """The seat map now and on every change (see Client.watch_seat_map)."""
        request = seats_pb2.WatchSeatMapRequest(screening_id=screening_id)
        return _stream(self.services.seats.WatchSeatMap(request, timeout=timeout))

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _retrying(self, attempt: Callable[[float], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.retry.deadline
        n = 0
        while True:
            n += 1
            try:
                return await attempt(max(0.001, deadline - time.monotonic()))
            except grpc.RpcError as e:
                error = CinemaError.from_rpc_error(e)
                if not is_retryable(error) or n >= self.retry.max_attempts:
                    raise error from e
                wait = backoff(n, self.retry, error.retry_delay)
                if time.monotonic() + wait >= deadline:
                    raise error from e
            await asyncio.sleep(wait)

    async def _follow(
        self, booking_number: str, done: Callable[[reservation_pb2.Booking], bool]
    ) -> reservation_pb2.Booking:
        follow = _Follow(booking_number, self.follow_timeout)
        attempt = 0
        while True:
            attempt += 1
            stream = self.watch(booking_number, timeout=follow.remaining())
            try:
                async for booking in stream:
                    follow.last = booking
                    if done(booking):
                        return booking
            except CinemaError as error:
                follow.check(error)
            finally:
                await stream.aclose()
            wait = backoff(min(attempt, 6), self.retry)
            follow.before_waiting(wait)
            await asyncio.sleep(wait)


async def _mapped(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.RpcError as e:
        raise CinemaError.from_rpc_error(e) from e


async def _stream(call: grpc.aio.UnaryStreamCall) -> AsyncGenerator:  # type: ignore[type-arg]
    """A server stream whose errors are CinemaError, cancelled when the consumer stops early."""
    try:
        async for message in call:
            yield message
    except grpc.RpcError as e:
        raise CinemaError.from_rpc_error(e) from e
    finally:
        call.cancel()
