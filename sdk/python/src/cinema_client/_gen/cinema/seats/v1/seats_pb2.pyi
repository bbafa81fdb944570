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

class SeatStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_STATUS_UNSPECIFIED: _ClassVar[SeatStatus]
    SEAT_STATUS_AVAILABLE: _ClassVar[SeatStatus]
    SEAT_STATUS_HELD: _ClassVar[SeatStatus]
    SEAT_STATUS_SOLD: _ClassVar[SeatStatus]
SEAT_STATUS_UNSPECIFIED: SeatStatus
SEAT_STATUS_AVAILABLE: SeatStatus
SEAT_STATUS_HELD: SeatStatus
SEAT_STATUS_SOLD: SeatStatus

class Seat(_message.Message):
    __slots__ = ("seat_id", "row", "number", "status", "price")
    SEAT_ID_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    seat_id: str
    row: str
    number: int
    status: SeatStatus
    price: _common_pb2.Money
    def __init__(self, seat_id: _Optional[str] = ..., row: _Optional[str] = ..., number: _Optional[int] = ..., status: _Optional[_Union[SeatStatus, str]] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class GetSeatMapRequest(_message.Message):
    __slots__ = ("screening_id",)
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    def __init__(self, screening_id: _Optional[str] = ...) -> None: ...

class WatchSeatMapRequest(_message.Message):
    __slots__ = ("screening_id",)
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    def __init__(self, screening_id: _Optional[str] = ...) -> None: ...

class SeatMap(_message.Message):
    __slots__ = ("screening_id", "movie_title", "screen_name", "starts_at", "seats", "available")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    movie_title: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    seats: _containers.RepeatedCompositeFieldContainer[Seat]
    available: int
    def __init__(self, screening_id: _Optional[str] = ..., movie_title: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seats: _Optional[_Iterable[_Union[Seat, _Mapping]]] = ..., available: _Optional[int] = ...) -> None: ...

class HoldSeatsRequest(_message.Message):
    __slots__ = ("booking_number", "screening_id", "seat_ids")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, booking_number: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SeatHold(_message.Message):
    __slots__ = ("booking_number", "screening_id", "seat_ids", "total", "expires_at", "sold", "movie_title", "screen_name", "starts_at")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SOLD_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    screening_id: str
    seat_ids: _containers.RepeatedScalarFieldContainer[str]
    total: _common_pb2.Money
    expires_at: _timestamp_pb2.Timestamp
    sold: bool
    movie_title: str
    screen_name: str
    starts_at: _timestamp_pb2.Timestamp
    def __init__(self, booking_number: _Optional[str] = ..., screening_id: _Optional[str] = ..., seat_ids: _Optional[_Iterable[str]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sold: _Optional[bool] = ..., movie_title: _Optional[str] = ..., screen_name: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmSeatsRequest(_message.Message):
    __slots__ = ("booking_number",)
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    def __init__(self, booking_number: _Optional[str] = ...) -> None: ...

class ReleaseSeatsRequest(_message.Message):
    __slots__ = ("booking_number",)
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    def __init__(self, booking_number: _Optional[str] = ...) -> None: ...

class ReleaseSeatsResponse(_message.Message):
    __slots__ = ("released_seat_ids",)
    RELEASED_SEAT_IDS_FIELD_NUMBER: _ClassVar[int]
    released_seat_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, released_seat_ids: _Optional[_Iterable[str]] = ...) -> None: ...
