import datetime

from cinema_client._gen.cinema.common.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentMethod(_message.Message):
    __slots__ = ("card_token",)
    CARD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    card_token: str
    def __init__(self, card_token: _Optional[str] = ...) -> None: ...

class BookTicketsRequest(_message.Message):
    __slots__ = ("request_id", "customer_id", "screening_id", "seat_ids", "payment")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    customer_id: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    payment: PaymentMethod
    def __init__(self, request_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., payment: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class CancelBookingRequest(_message.Message):
    __slots__ = ("booking_number", "reason")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    reason: str
    def __init__(self, booking_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BookingResult(_message.Message):
    __slots__ = ("booking_number", "status", "reason", "seat_ids", "amount", "payment_id", "hold_expires_at")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    status: _common_pb2.BookingStatus
    reason: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    amount: _common_pb2.Money
    payment_id: str
    hold_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, booking_number: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., hold_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
