import datetime

from cinema_client._gen.cinema.common.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CAPTURED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_DECLINED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REFUNDED: _ClassVar[PaymentStatus]

class SeatsStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEATS_STATUS_UNSPECIFIED: _ClassVar[SeatsStatus]
    SEATS_STATUS_HELD: _ClassVar[SeatsStatus]
    SEATS_STATUS_SOLD: _ClassVar[SeatsStatus]
    SEATS_STATUS_RELEASED: _ClassVar[SeatsStatus]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_CAPTURED: PaymentStatus
PAYMENT_STATUS_DECLINED: PaymentStatus
PAYMENT_STATUS_REFUNDED: PaymentStatus
SEATS_STATUS_UNSPECIFIED: SeatsStatus
SEATS_STATUS_HELD: SeatsStatus
SEATS_STATUS_SOLD: SeatsStatus
SEATS_STATUS_RELEASED: SeatsStatus

class Booking(_message.Message):
    __slots__ = ("booking_number", "customer_id", "screening_id", "seat_ids", "status", "reason", "amount", "payment_id", "movie_title", "screen_name", "starts_at", "created_at", "updated_at", "version", "payment_status", "seats_status", "hold_expires_at", "revision")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    SEATS_STATUS_FIELD_NUMBER: _ClassVar[int]
    HOLD_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    customer_id: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    status: _common_pb2.BookingStatus
    reason: str
    amount: _common_pb2.Money
    payment_id: str
    movie_title: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: int
    payment_status: PaymentStatus
    seats_status: SeatsStatus
    hold_expires_at: _timestamp_pb2.Timestamp
    revision: int
    def __init__(self, booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., movie_title: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., payment_status: _Optional[_Union[PaymentStatus, str]] = ..., seats_status: _Optional[_Union[SeatsStatus, str]] = ..., hold_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class GetBookingRequest(_message.Message):
    __slots__ = ("booking_number", "min_version")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    min_version: int
    def __init__(self, booking_number: _Optional[str] = ..., min_version: _Optional[int] = ...) -> None: ...

class WatchBookingRequest(_message.Message):
    __slots__ = ("booking_number",)
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    def __init__(self, booking_number: _Optional[str] = ...) -> None: ...

class ListBookingsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBookingsResponse(_message.Message):
    __slots__ = ("bookings", "next_page_token")
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    next_page_token: str
    def __init__(self, bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RebuildViewRequest(_message.Message):
    __slots__ = ("bucket",)
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    def __init__(self, bucket: _Optional[str] = ...) -> None: ...

class RebuildViewResponse(_message.Message):
    __slots__ = ("bucket", "events_read", "bookings", "entries_changed")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    EVENTS_READ_FIELD_NUMBER: _ClassVar[int]
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    events_read: int
    bookings: int
    entries_changed: int
    def __init__(self, bucket: _Optional[str] = ..., events_read: _Optional[int] = ..., bookings: _Optional[int] = ..., entries_changed: _Optional[int] = ...) -> None: ...

class CreateReservationRequest(_message.Message):
    __slots__ = ("booking_number", "customer_id", "screening_id", "seat_ids")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    customer_id: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, booking_number: _Optional[str] = ..., customer_id: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfirmReservationRequest(_message.Message):
    __slots__ = ("booking_number", "payment_id", "amount", "movie_title", "screen_name", "starts_at")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    payment_id: str
    amount: _common_pb2.Money
    movie_title: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    def __init__(self, booking_number: _Optional[str] = ..., payment_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., movie_title: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RejectReservationRequest(_message.Message):
    __slots__ = ("booking_number", "status", "reason")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    status: _common_pb2.BookingStatus
    reason: str
    def __init__(self, booking_number: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class AwaitPaymentRequest(_message.Message):
    __slots__ = ("booking_number", "reason")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    reason: str
    def __init__(self, booking_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelReservationRequest(_message.Message):
    __slots__ = ("booking_number", "reason")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    reason: str
    def __init__(self, booking_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
