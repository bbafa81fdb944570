from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BookingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_STATUS_UNSPECIFIED: _ClassVar[BookingStatus]
    BOOKING_STATUS_PENDING: _ClassVar[BookingStatus]
    BOOKING_STATUS_AWAITING_PAYMENT: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMED: _ClassVar[BookingStatus]
    BOOKING_STATUS_REJECTED: _ClassVar[BookingStatus]
    BOOKING_STATUS_EXPIRED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLING: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLED: _ClassVar[BookingStatus]
BOOKING_STATUS_UNSPECIFIED: BookingStatus
BOOKING_STATUS_PENDING: BookingStatus
BOOKING_STATUS_AWAITING_PAYMENT: BookingStatus
BOOKING_STATUS_CONFIRMED: BookingStatus
BOOKING_STATUS_REJECTED: BookingStatus
BOOKING_STATUS_EXPIRED: BookingStatus
BOOKING_STATUS_CANCELLING: BookingStatus
BOOKING_STATUS_CANCELLED: BookingStatus

class Money(_message.Message):
    __slots__ = ("currency", "amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount: int
    def __init__(self, currency: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...
