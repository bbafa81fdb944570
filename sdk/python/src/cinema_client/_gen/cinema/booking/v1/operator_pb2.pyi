import datetime

from cinema_client._gen.cinema.common.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StepOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_OUTCOME_UNSPECIFIED: _ClassVar[StepOutcome]
    STEP_OUTCOME_OK: _ClassVar[StepOutcome]
    STEP_OUTCOME_BUSINESS_ERROR: _ClassVar[StepOutcome]
    STEP_OUTCOME_TRANSIENT_ERROR: _ClassVar[StepOutcome]
    STEP_OUTCOME_BUG: _ClassVar[StepOutcome]
    STEP_OUTCOME_DEFERRED: _ClassVar[StepOutcome]
    STEP_OUTCOME_HOLD_EXPIRED: _ClassVar[StepOutcome]

class OperatorActionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATOR_ACTION_KIND_UNSPECIFIED: _ClassVar[OperatorActionKind]
    OPERATOR_ACTION_KIND_RETRY_NOW: _ClassVar[OperatorActionKind]
    OPERATOR_ACTION_KIND_FORCE_COMPENSATE: _ClassVar[OperatorActionKind]
STEP_OUTCOME_UNSPECIFIED: StepOutcome
STEP_OUTCOME_OK: StepOutcome
STEP_OUTCOME_BUSINESS_ERROR: StepOutcome
STEP_OUTCOME_TRANSIENT_ERROR: StepOutcome
STEP_OUTCOME_BUG: StepOutcome
STEP_OUTCOME_DEFERRED: StepOutcome
STEP_OUTCOME_HOLD_EXPIRED: StepOutcome
OPERATOR_ACTION_KIND_UNSPECIFIED: OperatorActionKind
OPERATOR_ACTION_KIND_RETRY_NOW: OperatorActionKind
OPERATOR_ACTION_KIND_FORCE_COMPENSATE: OperatorActionKind

class GetSagaTimelineRequest(_message.Message):
    __slots__ = ("booking_number",)
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    def __init__(self, booking_number: _Optional[str] = ...) -> None: ...

class OperatorRequest(_message.Message):
    __slots__ = ("booking_number", "reason")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    reason: str
    def __init__(self, booking_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SagaTimeline(_message.Message):
    __slots__ = ("booking_number", "state", "status", "reason", "request_id", "correlation_id", "created_at", "updated_at", "terminal", "compensating", "attempts", "next_run_at", "lease_until", "steps", "audit")
    BOOKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    COMPENSATING_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    LEASE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    booking_number: str
    state: str
    status: _common_pb2.BookingStatus
    reason: str
    request_id: str
    correlation_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    terminal: bool
    compensating: bool
    attempts: int
    next_run_at: _timestamp_pb2.Timestamp
    lease_until: _timestamp_pb2.Timestamp
    steps: _containers.RepeatedCompositeFieldContainer[SagaStep]
    audit: _containers.RepeatedCompositeFieldContainer[OperatorAction]
    def __init__(self, booking_number: _Optional[str] = ..., state: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., terminal: _Optional[bool] = ..., compensating: _Optional[bool] = ..., attempts: _Optional[int] = ..., next_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[SagaStep, _Mapping]]] = ..., audit: _Optional[_Iterable[_Union[OperatorAction, _Mapping]]] = ...) -> None: ...

class SagaStep(_message.Message):
    __slots__ = ("state", "step", "attempt", "outcome", "error", "started_at", "duration", "correlation_id", "runner", "lease_token", "next_state")
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEXT_STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    step: str
    attempt: int
    outcome: StepOutcome
    error: str
    started_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    correlation_id: str
    runner: str
    lease_token: str
    next_state: str
    def __init__(self, state: _Optional[str] = ..., step: _Optional[str] = ..., attempt: _Optional[int] = ..., outcome: _Optional[_Union[StepOutcome, str]] = ..., error: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., correlation_id: _Optional[str] = ..., runner: _Optional[str] = ..., lease_token: _Optional[str] = ..., next_state: _Optional[str] = ...) -> None: ...

class OperatorAction(_message.Message):
    __slots__ = ("operator", "action", "reason", "state_before", "state_after", "at", "correlation_id")
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    STATE_AFTER_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    operator: str
    action: OperatorActionKind
    reason: str
    state_before: str
    state_after: str
    at: _timestamp_pb2.Timestamp
    correlation_id: str
    def __init__(self, operator: _Optional[str] = ..., action: _Optional[_Union[OperatorActionKind, str]] = ..., reason: _Optional[str] = ..., state_before: _Optional[str] = ..., state_after: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ...) -> None: ...
