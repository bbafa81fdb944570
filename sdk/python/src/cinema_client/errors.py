"""CinemaError: one error type for the client's calls, decoded once.

The services answer errors as gRPC status codes with google.rpc details in the
`grpc-status-details-bin` trailer: ErrorInfo (a machine-readable reason such as
SEAT_TAKEN), BadRequest (every field violation of a bad request) and RetryInfo
(how long to wait before trying again, e.g. while a screening is busy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc

DETAILS_TRAILER = "grpc-status-details-bin"


class FieldViolation(NamedTuple):
    """One field of a request the server refused: `("seat_ids", "must not be empty")`."""

    field: str
    description: str


class CinemaError(Exception):
    """A call that failed, with the server's google.rpc error details decoded.

    `code` is a grpc.StatusCode, `reason` the ErrorInfo reason (None when the server
    sent none), `field_violations` every BadRequest violation (empty when none), and
    `retry_delay` the RetryInfo delay in seconds (None when none).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str | None = None,
        field_violations: Iterable[tuple[str, str]] = (),
        retry_delay: float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = [FieldViolation(*v) for v in field_violations]
        self.retry_delay = retry_delay
        #: ErrorInfo.metadata.
        self.metadata = dict(metadata or {})

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"CinemaError({self.code!r}, {self.message!r}, reason={self.reason!r}, "
            f"field_violations={self.field_violations!r}, retry_delay={self.retry_delay!r})"
        )

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> CinemaError:
        """Decodes what a call raised (sync or asyncio). Use it on the raw stubs' errors too."""
        code = _call(error, "code") or grpc.StatusCode.UNKNOWN
        message = _call(error, "details") or ""
        trailers = _call(error, "trailing_metadata") or ()
        raw = next((value for key, value in trailers if key == DETAILS_TRAILER), None)
        if not isinstance(raw, bytes):
            return cls(code, message)

        status = status_pb2.Status.FromString(raw)
        reason, metadata, violations, retry_delay = None, {}, [], None
        for detail in status.details:
            # Unpack is false when the detail is of another type.
            info, bad, retry = (
                error_details_pb2.ErrorInfo(),
                error_details_pb2.BadRequest(),
                error_details_pb2.RetryInfo(),
            )
            if detail.Unpack(info):
                reason, metadata = info.reason or None, dict(info.metadata)
            elif detail.Unpack(bad):
                violations += [(v.field, v.description) for v in bad.field_violations]
            elif detail.Unpack(retry) and retry.HasField("retry_delay"):
                retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        return cls(code, message or status.message, reason, violations, retry_delay, metadata)


def _call(error: grpc.RpcError, method: str):  # type: ignore[no-untyped-def]
    # grpc.RpcError itself promises nothing; the errors of calls are also grpc.Call.
    function = getattr(error, method, None)
    return function() if callable(function) else None
