"""The generated stubs of the public services, for everything the client's verbs do not cover.

They share the client's channel, so they carry its token. Their errors are
grpc.RpcError: `CinemaError.from_rpc_error(e)` decodes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import grpc.aio

from ._gen.cinema.booking.v1 import booking_pb2_grpc, operator_pb2_grpc
from ._gen.cinema.loyalty.v1 import loyalty_pb2_grpc
from ._gen.cinema.notification.v1 import notification_pb2_grpc
from ._gen.cinema.reservation.v1 import reservation_pb2_grpc
from ._gen.cinema.screening.v1 import screening_pb2_grpc
from ._gen.cinema.seats.v1 import seats_pb2_grpc

if TYPE_CHECKING:
    from ._gen.cinema.booking.v1.booking_pb2_grpc import BookingServiceAsyncStub
    from ._gen.cinema.booking.v1.operator_pb2_grpc import SagaOperatorServiceAsyncStub
    from ._gen.cinema.loyalty.v1.loyalty_pb2_grpc import LoyaltyServiceAsyncStub
    from ._gen.cinema.notification.v1.notification_pb2_grpc import NotificationServiceAsyncStub
    from ._gen.cinema.reservation.v1.reservation_pb2_grpc import (
        BookingQueryServiceAsyncStub,
        BookingViewAdminAsyncStub,
    )
    from ._gen.cinema.screening.v1.screening_pb2_grpc import ScreeningServiceAsyncStub
    from ._gen.cinema.seats.v1.seats_pb2_grpc import SeatsServiceAsyncStub


@dataclass(frozen=True)
class Services:
    booking: booking_pb2_grpc.BookingServiceStub
    booking_query: reservation_pb2_grpc.BookingQueryServiceStub
    #: Movies and screenings; RegisterMovie and ScheduleScreening need an `admin` token.
    screening: screening_pb2_grpc.ScreeningServiceStub
    seats: seats_pb2_grpc.SeatsServiceStub
    loyalty: loyalty_pb2_grpc.LoyaltyServiceStub
    notification: notification_pb2_grpc.NotificationServiceStub
    #: Operators only (a token with the `operator` role).
    saga_operator: operator_pb2_grpc.SagaOperatorServiceStub
    booking_view_admin: reservation_pb2_grpc.BookingViewAdminStub

    @classmethod
    def of(cls, channel: grpc.Channel) -> Services:
        return cls(
            booking=booking_pb2_grpc.BookingServiceStub(channel),
            booking_query=reservation_pb2_grpc.BookingQueryServiceStub(channel),
            screening=screening_pb2_grpc.ScreeningServiceStub(channel),
            seats=seats_pb2_grpc.SeatsServiceStub(channel),
            loyalty=loyalty_pb2_grpc.LoyaltyServiceStub(channel),
            notification=notification_pb2_grpc.NotificationServiceStub(channel),
            saga_operator=operator_pb2_grpc.SagaOperatorServiceStub(channel),
            booking_view_admin=reservation_pb2_grpc.BookingViewAdminStub(channel),
        )


@dataclass(frozen=True)
class AsyncServices:
    booking: BookingServiceAsyncStub
    booking_query: BookingQueryServiceAsyncStub
    screening: ScreeningServiceAsyncStub
    seats: SeatsServiceAsyncStub
    loyalty: LoyaltyServiceAsyncStub
    notification: NotificationServiceAsyncStub
    saga_operator: SagaOperatorServiceAsyncStub
    booking_view_admin: BookingViewAdminAsyncStub

    @classmethod
    def of(cls, channel: grpc.aio.Channel) -> AsyncServices:
        # The same stub classes: they only call channel.unary_unary / unary_stream,
        # which both kinds of channel have (the .pyi overloads type them as async).
        return cls(
            booking=booking_pb2_grpc.BookingServiceStub(channel),
            booking_query=reservation_pb2_grpc.BookingQueryServiceStub(channel),
            screening=screening_pb2_grpc.ScreeningServiceStub(channel),
            seats=seats_pb2_grpc.SeatsServiceStub(channel),
            loyalty=loyalty_pb2_grpc.LoyaltyServiceStub(channel),
            notification=notification_pb2_grpc.NotificationServiceStub(channel),
            saga_operator=operator_pb2_grpc.SagaOperatorServiceStub(channel),
            booking_view_admin=reservation_pb2_grpc.BookingViewAdminStub(channel),
        )
