import datetime

from cinema_client._gen.cinema.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("event_id", "event_type", "occurred_at", "aggregate_id", "aggregate_version", "correlation_id", "causation_id", "payload")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    occurred_at: _timestamp_pb2.Timestamp
    aggregate_id: str
    aggregate_version: int
    correlation_id: str
    causation_id: str
    payload: bytes
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class SeatPrice(_message.Message):
    __slots__ = ("seat_id", "amount")
    SEAT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    seat_id: str
    amount: int
    def __init__(self, seat_id: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class MovieRegistered(_message.Message):
    __slots__ = ("movie_id", "title", "screen_id", "screen_name")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_ID_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    title: str
    screen_id: str
    screen_name: str
    def __init__(self, movie_id: _Optional[str] = ..., title: _Optional[str] = ..., screen_id: _Optional[str] = ..., screen_name: _Optional[str] = ...) -> None: ...

class ScreeningScheduled(_message.Message):
    __slots__ = ("screening_id", "movie_id", "movie_title", "screen_id", "screen_name", "starts_at", "ends_at", "currency", "seats")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_ID_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    movie_id: str
    movie_title: str
    screen_id: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    currency: str
    seats: _containers.RepeatedCompositeFieldContainer[SeatPrice]
    def __init__(self, screening_id: _Optional[str] = ..., movie_id: _Optional[str] = ..., movie_title: _Optional[str] = ..., screen_id: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency: _Optional[str] = ..., seats: _Optional[_Iterable[_Union[SeatPrice, _Mapping]]] = ...) -> None: ...

class SeatsHeld(_message.Message):
    __slots__ = ("screening_id", "booking_number", "seat_ids", "expires_at")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    booking_number: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, screening_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SeatsSold(_message.Message):
    __slots__ = ("screening_id", "booking_number", "seat_ids")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    booking_number: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, screening_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SeatsReleased(_message.Message):
    __slots__ = ("screening_id", "booking_number", "seat_ids")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    booking_number: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, screening_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PaymentCaptured(_message.Message):
    __slots__ = ("payment_id", "booking_number", "customer_id", "amount")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    booking_number: str
    customer_id: str
    amount: _common_pb2.Money
    def __init__(self, payment_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class PaymentDeclined(_message.Message):
    __slots__ = ("payment_id", "booking_number", "customer_id", "reason")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    booking_number: str
    customer_id: str
    reason: str
    def __init__(self, payment_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PaymentRefunded(_message.Message):
    __slots__ = ("payment_id", "booking_number", "customer_id", "amount")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    booking_number: str
    customer_id: str
    amount: _common_pb2.Money
    def __init__(self, payment_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class BookingStatusChanged(_message.Message):
    __slots__ = ("booking_number", "customer_id", "screening_id", "seat_ids", "status", "previous_status", "reason", "amount", "movie_title", "screen_name", "starts_at", "version", "payment_id", "created_at", "updated_at")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    customer_id: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    status: _common_pb2.BookingStatus
    previous_status: _common_pb2.BookingStatus
    reason: str
    amount: _common_pb2.Money
    movie_title: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    version: int
    payment_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., previous_status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., movie_title: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., payment_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
