import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartnerRelayStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTNER_RELAY_STATUS_UNSPECIFIED: _ClassVar[PartnerRelayStatus]
    PARTNER_RELAY_STATUS_PENDING: _ClassVar[PartnerRelayStatus]
    PARTNER_RELAY_STATUS_DELIVERED: _ClassVar[PartnerRelayStatus]
    PARTNER_RELAY_STATUS_FAILED: _ClassVar[PartnerRelayStatus]
PARTNER_RELAY_STATUS_UNSPECIFIED: PartnerRelayStatus
PARTNER_RELAY_STATUS_PENDING: PartnerRelayStatus
PARTNER_RELAY_STATUS_DELIVERED: PartnerRelayStatus
PARTNER_RELAY_STATUS_FAILED: PartnerRelayStatus

class GetPointsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("entry_id", "booking_number", "points", "reason", "created_at", "partner_relay")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTNER_RELAY_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    booking_number: str
    points: int
    reason: str
    created_at: _timestamp_pb2.Timestamp
    partner_relay: PartnerRelay
    def __init__(self, entry_id: _Optional[str] = ..., booking_number: _Optional[str] = ..., points: _Optional[int] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partner_relay: _Optional[_Union[PartnerRelay, _Mapping]] = ...) -> None: ...

class Points(_message.Message):
    __slots__ = ("customer_id", "balance", "history", "next_page_token", "partner")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    balance: int
    history: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    partner: PartnerLink
    def __init__(self, customer_id: _Optional[str] = ..., balance: _Optional[int] = ..., history: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., partner: _Optional[_Union[PartnerLink, _Mapping]] = ...) -> None: ...

class LinkPartnerRequest(_message.Message):
    __slots__ = ("customer_id", "partner_id", "member_number")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    partner_id: str
    member_number: str
    def __init__(self, customer_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., member_number: _Optional[str] = ...) -> None: ...

class PartnerLink(_message.Message):
    __slots__ = ("customer_id", "partner_id", "member_number", "linked_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LINKED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    partner_id: str
    member_number: str
    linked_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., member_number: _Optional[str] = ..., linked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UnlinkPartnerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class UnlinkPartnerResponse(_message.Message):
    __slots__ = ("unlinked",)
    UNLINKED_FIELD_NUMBER: _ClassVar[int]
    unlinked: bool
    def __init__(self, unlinked: _Optional[bool] = ...) -> None: ...

class PartnerRelay(_message.Message):
    __slots__ = ("partner_id", "status", "attempts")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    status: PartnerRelayStatus
    attempts: int
    def __init__(self, partner_id: _Optional[str] = ..., status: _Optional[_Union[PartnerRelayStatus, str]] = ..., attempts: _Optional[int] = ...) -> None: ...
