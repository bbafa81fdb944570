"""The channels: the gateway's address, TLS or not, and the bearer token on every call."""

from __future__ import annotations

from collections.abc import Callable
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
    interceptors = aio_interceptors(token)
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


class _AioBearerToken:
    """Adds `authorization: Bearer <token>` to the calls of an asyncio channel.

    grpc.aio files each interceptor under the first kind it is an instance of, so
    each kind of call gets its own interceptor (see aio_interceptors).
    """

    def __init__(self, header: str) -> None:
        self._header = header

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add(AUTHORIZATION, self._header)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _AioUnaryUnary(_AioBearerToken, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: AioContinuation, details: AioDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)


class _AioUnaryStream(_AioBearerToken, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: AioContinuation, details: AioDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)


class _AioStreamUnary(_AioBearerToken, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: AioContinuation, details: AioDetails, requests: Any
    ) -> Any:
        return await continuation(self._details(details), requests)


class _AioStreamStream(_AioBearerToken, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: AioContinuation, details: AioDetails, requests: Any
    ) -> Any:
        return await continuation(self._details(details), requests)


def aio_interceptors(token: str | None) -> list[grpc.aio.ClientInterceptor]:
    if token is None:
        return []
    header = f"Bearer {token}"
    kinds = (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)
    return [kind(header) for kind in kinds]
