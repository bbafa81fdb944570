"""An in-process stand-in for the gateway (BookingService, BookingQueryService) that
answers from a script, to test the client's retries and error decoding without a stack."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from cinema_client import BookingStatus, booking_pb2, reservation_pb2
from cinema_client._gen.cinema.booking.v1 import booking_pb2_grpc
from cinema_client._gen.cinema.reservation.v1 import reservation_pb2_grpc
from cinema_client.errors import DETAILS_TRAILER


@dataclass
class Refusal:
    """A failed answer, with the google.rpc details the real services send."""

    code: grpc.StatusCode
    message: str = "refused"
    reason: str | None = None
    violations: list[tuple[str, str]] = field(default_factory=list)
    retry_delay: float | None = None

    def abort(self, context: grpc.ServicerContext) -> None:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.reason:
            status.details.add().Pack(
                error_details_pb2.ErrorInfo(reason=self.reason, domain="cinema")
            )
        if self.violations:
            bad = error_details_pb2.BadRequest()
            for name, description in self.violations:
                bad.field_violations.add(field=name, description=description)
            status.details.add().Pack(bad)
        if self.retry_delay is not None:
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(int(self.retry_delay * 1000))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        context.set_trailing_metadata(((DETAILS_TRAILER, status.SerializeToString()),))
        context.abort(self.code, self.message)


class FakeGateway(
    booking_pb2_grpc.BookingServiceServicer, reservation_pb2_grpc.BookingQueryServiceServicer
):
    """BookTickets answers `refusals` in order, then PENDING; WatchBooking streams
    `statuses`, then stays open (like the real one after CONFIRMED) until cancelled."""

    def __init__(self) -> None:
        self.refusals: list[Refusal] = []
        self.statuses = [
            BookingStatus.BOOKING_STATUS_PENDING,
            BookingStatus.BOOKING_STATUS_CONFIRMED,
        ]
        self.book_requests: list[booking_pb2.BookTicketsRequest] = []
        #: The authorization header of every call, BookTickets and WatchBooking alike.
        self.authorizations: list[str | None] = []
        self.watch_cancelled = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        booking_pb2_grpc.add_BookingServiceServicer_to_server(self, self._server)
        reservation_pb2_grpc.add_BookingQueryServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def start(self) -> FakeGateway:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def BookTickets(self, request, context):  # type: ignore[no-untyped-def]
        self.book_requests.append(request)
        self.authorizations.append(dict(context.invocation_metadata()).get("authorization"))
        if self.refusals:
            self.refusals.pop(0).abort(context)
        return booking_pb2.BookingResult(
            booking_number="BK000000000001", status=BookingStatus.BOOKING_STATUS_PENDING
        )

    def WatchBooking(self, request, context) -> Iterator[reservation_pb2.Booking]:  # type: ignore[no-untyped-def, override]
        self.authorizations.append(dict(context.invocation_metadata()).get("authorization"))
        context.add_callback(self.watch_cancelled.set)
        for version, status in enumerate(self.statuses, start=1):
            yield reservation_pb2.Booking(
                booking_number=request.booking_number, status=status, version=version
            )
        self.watch_cancelled.wait(timeout=10)
