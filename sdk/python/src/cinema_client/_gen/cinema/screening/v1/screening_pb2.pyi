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

class MovieStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MOVIE_STATUS_UNSPECIFIED: _ClassVar[MovieStatus]
    MOVIE_STATUS_WAITING: _ClassVar[MovieStatus]
    MOVIE_STATUS_RUNNING: _ClassVar[MovieStatus]
    MOVIE_STATUS_ENDED: _ClassVar[MovieStatus]
MOVIE_STATUS_UNSPECIFIED: MovieStatus
MOVIE_STATUS_WAITING: MovieStatus
MOVIE_STATUS_RUNNING: MovieStatus
MOVIE_STATUS_ENDED: MovieStatus

class Screen(_message.Message):
    __slots__ = ("screen_id", "name", "rows", "seats_per_row")
    SCREEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SEATS_PER_ROW_FIELD_NUMBER: _ClassVar[int]
    screen_id: str
    name: str
    rows: _containers.RepeatedScalarFieldContainer[str]
    seats_per_row: int
    def __init__(self, screen_id: _Optional[str] = ..., name: _Optional[str] = ..., rows: _Optional[_Iterable[str]] = ..., seats_per_row: _Optional[int] = ...) -> None: ...

class Movie(_message.Message):
    __slots__ = ("movie_id", "title", "status", "running_minutes", "screen", "registered_at")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    title: str
    status: MovieStatus
    running_minutes: int
    screen: Screen
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, movie_id: _Optional[str] = ..., title: _Optional[str] = ..., status: _Optional[_Union[MovieStatus, str]] = ..., running_minutes: _Optional[int] = ..., screen: _Optional[_Union[Screen, _Mapping]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterMovieRequest(_message.Message):
    __slots__ = ("title", "status", "running_minutes")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_MINUTES_FIELD_NUMBER: _ClassVar[int]
    title: str
    status: MovieStatus
    running_minutes: int
    def __init__(self, title: _Optional[str] = ..., status: _Optional[_Union[MovieStatus, str]] = ..., running_minutes: _Optional[int] = ...) -> None: ...

class ListMoviesRequest(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: MovieStatus
    def __init__(self, status: _Optional[_Union[MovieStatus, str]] = ...) -> None: ...

class ListMoviesResponse(_message.Message):
    __slots__ = ("movies",)
    MOVIES_FIELD_NUMBER: _ClassVar[int]
    movies: _containers.RepeatedCompositeFieldContainer[Movie]
    def __init__(self, movies: _Optional[_Iterable[_Union[Movie, _Mapping]]] = ...) -> None: ...

class RowPrice(_message.Message):
    __slots__ = ("row", "price")
    ROW_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    row: str
    price: _common_pb2.Money
    def __init__(self, row: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class ScheduleScreeningRequest(_message.Message):
    __slots__ = ("movie_id", "screen_id", "starts_at", "price", "row_prices")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    SCREEN_ID_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ROW_PRICES_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    screen_id: str
    starts_at: _timestamp_pb2.Timestamp
    price: _common_pb2.Money
    row_prices: _containers.RepeatedCompositeFieldContainer[RowPrice]
    def __init__(self, movie_id: _Optional[str] = ..., screen_id: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., row_prices: _Optional[_Iterable[_Union[RowPrice, _Mapping]]] = ...) -> None: ...

class Screening(_message.Message):
    __slots__ = ("screening_id", "movie_id", "movie_title", "screen", "starts_at", "ends_at", "price", "row_prices")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    MOVIE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ROW_PRICES_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    movie_id: str
    movie_title: str
    screen: Screen
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    price: _common_pb2.Money
    row_prices: _containers.RepeatedCompositeFieldContainer[RowPrice]
    def __init__(self, screening_id: _Optional[str] = ..., movie_id: _Optional[str] = ..., movie_title: _Optional[str] = ..., screen: _Optional[_Union[Screen, _Mapping]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., row_prices: _Optional[_Iterable[_Union[RowPrice, _Mapping]]] = ...) -> None: ...

class ListScreeningsRequest(_message.Message):
    __slots__ = ("movie_id",)
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    def __init__(self, movie_id: _Optional[str] = ...) -> None: ...

class ListScreeningsResponse(_message.Message):
    __slots__ = ("screenings",)
    SCREENINGS_FIELD_NUMBER: _ClassVar[int]
    screenings: _containers.RepeatedCompositeFieldContainer[Screening]
    def __init__(self, screenings: _Optional[_Iterable[_Union[Screening, _Mapping]]] = ...) -> None: ...
