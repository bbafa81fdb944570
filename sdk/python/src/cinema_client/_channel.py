"""The channels: the gateway's address, TLS or not, and the bearer token on every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import grpc
import grpc.aio

AUTHORIZATION = "authorization"

Details = grpc.ClientCallDetails
Continuation = Callable[[Details, Any], Any]
AioDetails = grpc.aio.ClientCallDetails
AioContinuation = Callable[[AioDetails, Any], Any]


def channel(
    target: str, token: str | None, secure: bool, credentials: grpc.ChannelCredentials | None
) -> grpc.Channel:
    if secure or credentials is not None:
        inner = grpc.secure_channel(target, credentials or grpc.ssl_channel_credentials())
    else:
        inner = grpc.insecure_channel(target)
    if token is None:
        return inner
    return grpc.intercept_channel(inner, _BearerToken(f"Bearer {token}"))


def aio_channel(
    target: str, token: str | None, secure: bool, credentials: grpc.ChannelCredentials | None
) -> grpc.aio.Channel:
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (
        [] if token is None else [_AioBearerToken(f"Bearer {token}")]
    )
    if secure or credentials is not None:
        creds = credentials or grpc.ssl_channel_credentials()
        return grpc.aio.secure_channel(target, creds, interceptors=interceptors)
    return grpc.aio.insecure_channel(target, interceptors=interceptors)


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _CallDetails(_Details, grpc.ClientCallDetails):
    pass


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call of a sync channel."""

    def __init__(self, header: str) -> None:
        self._header = header

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), (AUTHORIZATION, self._header)]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Continuation, details: Details, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Continuation, details: Details, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Continuation, details: Details, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Continuation, details: Details, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)


class _AioBearerToken(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call of an asyncio channel."""

    def __init__(self, header: str) -> None:
        self._header = header

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add(AUTHORIZATION, self._header)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self, continuation: AioContinuation, details: AioDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(
        self, continuation: AioContinuation, details: AioDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_stream_unary(
        self, continuation: AioContinuation, details: AioDetails, requests: Any
    ) -> Any:
        return await continuation(self._details(details), requests)

    async def intercept_stream_stream(
        self, continuation: AioContinuation, details: AioDetails, requests: Any
    ) -> Any:
        return await continuation(self._details(details), requests)
