"""Reading a response body whole, never holding more than a cap of decoded bytes.

The body is read as part of the attempt, so a connection cut mid-body is an attempt failure
the retry procedure and the breaker see, not a success its status line promised.
"""

from __future__ import annotations

from typing import Final

import httpx

from ._errors import ResponseTooLargeError
from ._operation import operation_of

__all__: list[str] = []  # internal: used by the drivers and the breaker layer

DEFAULT_MAX_BODY: Final = 64 * 1024 * 1024


def _too_large(request: httpx.Request, response: httpx.Response, cap: int) -> ResponseTooLargeError:
    op = operation_of(request)
    return ResponseTooLargeError(
        f"response body exceeds {cap} bytes",
        status_code=response.status_code,
        operation=op.operation_id if op else None,
        request_id=request.headers.get("x-request-id"),
    )


class _Capped:
    """Collects decoded chunks up to the cap; decides whether a plain read is safe."""

    __slots__ = ("cap", "chunks", "request", "response", "size")

    def __init__(self, request: httpx.Request, response: httpx.Response, cap: int) -> None:
        self.request, self.response, self.cap = request, response, cap
        self.chunks: list[bytes] = []
        self.size = 0

    def declared_ok(self) -> bool:
        """Content-Length within the cap and no encoding: ``read()`` is safe as it is."""
        response = self.response
        length = response.headers.get("content-length")
        if length is None or not length.isascii() or not length.isdigit():
            return False  # unknown or malformed ("10, 10"): read in capped steps
        if int(length) > self.cap:
            raise _too_large(self.request, response, self.cap)
        return "content-encoding" not in response.headers

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise _too_large(self.request, self.response, self.cap)
        self.chunks.append(chunk)

    def finish(self) -> None:
        self.response._content = b"".join(self.chunks)  # what Response.read() itself does


def _already_read(request: httpx.Request, response: httpx.Response, cap: int) -> bool:
    """True when there is nothing left to read (an inner layer read it, or it was built from
    bytes); the cap still holds for it."""
    if not response.is_stream_consumed:
        return False
    try:
        size = len(response.content)
    except httpx.ResponseNotRead:
        return True
    if size > cap:
        raise _too_large(request, response, cap)
    return True


def read_body_sync(request: httpx.Request, response: httpx.Response, cap: int) -> None:
    if _already_read(request, response, cap):
        return
    capped = _Capped(request, response, cap)
    try:
        if capped.declared_ok():
            response.read()
            return
        for chunk in response.iter_bytes():
            capped.add(chunk)
        capped.finish()
    except BaseException:
        response.close()
        raise


async def read_body_async(request: httpx.Request, response: httpx.Response, cap: int) -> None:
    if _already_read(request, response, cap):
        return
    capped = _Capped(request, response, cap)
    try:
        if capped.declared_ok():
            await response.aread()
            return
        async for chunk in response.aiter_bytes():
            capped.add(chunk)
        capped.finish()
    except BaseException:
        await response.aclose()
        raise
