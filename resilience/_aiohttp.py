"""httpx-aiohttp's transport, with its exceptions mapped to what actually happened.

httpx-aiohttp maps every ``aiohttp.ClientConnectionError`` (a server that stored a request
and then closed the connection included) to ``httpx.ConnectTimeout``, which would tell the
retry layer the request was never sent. This wrapper re-maps from the aiohttp cause, for the
request and for the response body stream, so "maybe delivered" and the metrics' outcome
kinds are right.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport as _Upstream

__all__ = ["AiohttpTransport"]

# Most specific first: the first match wins.
_BY_CAUSE: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # nothing was sent
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
)


def remap(exc: httpx.TransportError) -> httpx.TransportError:
    """The httpx exception that says what the aiohttp cause means; ``exc`` when no better."""
    cause = exc.__cause__
    if cause is None:
        return exc
    for aio_type, httpx_type in _BY_CAUSE:
        if isinstance(cause, aio_type):
            if type(exc) is httpx_type:
                return exc
            new = httpx_type(str(exc) or type(cause).__name__)
            new.__cause__ = cause
            return new
    return exc


class _RemappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise remap(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx-aiohttp's ``AiohttpTransport`` with exceptions mapped by their aiohttp cause."""

    def __init__(self, **kwargs: Any) -> None:
        self._inner = _Upstream(**kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            raise remap(exc) from exc.__cause__
        response.stream = _RemappedStream(response.stream)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
