"""Reading a response body whole, within a cap of decoded bytes and the logical call's deadline.

The body is read as part of the attempt, so a connection cut mid-body is an attempt failure
the retry procedure and the breaker see, not a success its status line promised. A gzip or
deflate body is decoded here, a bounded step at a time: httpx decodes a whole network read at
once (64 KiB of gzip can be 64 MiB of output) and stacked codings multiply, so the cap is
enforced on each step's output and memory stays within a small multiple of it. A deadline
(:class:`Deadline`, set by the call procedure) is checked after every network read, so a
server dripping its body a byte at a time cannot outlast it by more than one read timeout.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Final

import httpx

from ._errors import APIResponseValidationError, ResponseTooLargeError
from ._operation import operation_of

__all__: list[str] = []  # internal: used by the drivers, the layers and the call procedure

DEFAULT_MAX_BODY: Final = 64 * 1024 * 1024
#: Where a request carries the :class:`Deadline` of its logical call (only when one is set).
EXT_DEADLINE: Final = "resilience.deadline"
#: The most one decoding step produces.
_STEP: Final = 64 * 1024
#: Stacked codings undone at most ("gzip, gzip" is legal, a dozen is an attack).
_MAX_CODINGS: Final = 3
#: Codings httpx decodes only with an optional package installed; left to httpx.
_HTTPX_ONLY: Final = frozenset({"br", "zstd"})


class Deadline:
    """When a logical call must be over, on the clock of the call procedure."""

    __slots__ = ("at", "clock")

    def __init__(self, at: float, clock: Callable[[], float]) -> None:
        self.at, self.clock = at, clock

    def left(self) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.at - self.clock()


class DeadlineExceeded(httpx.ReadTimeout):
    """The logical call's deadline passed while the body was being read."""


def _describe(request: httpx.Request) -> tuple[str | None, str | None]:
    op = operation_of(request)
    return (op.operation_id if op else None), request.headers.get("x-request-id")


def _too_large(request: httpx.Request, response: httpx.Response, cap: int) -> ResponseTooLargeError:
    op_id, rid = _describe(request)
    return ResponseTooLargeError(
        f"response body exceeds {cap} bytes",
        status_code=response.status_code,
        operation=op_id,
        request_id=rid,
    )


class _Inflate:
    """One gzip or deflate coding undone incrementally: no step yields more than ``_STEP`` bytes."""

    __slots__ = ("_d", "_raw_fallback", "_request")

    def __init__(self, coding: str, request: httpx.Request) -> None:
        self._request = request
        # deflate is zlib-wrapped (RFC 9110), but some servers send it raw: httpx tries both.
        self._raw_fallback = coding == "deflate"
        self._d = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        d = self._d
        while True:
            try:
                out = d.decompress(data, _STEP)
            except zlib.error as exc:
                if self._raw_fallback:
                    self._raw_fallback = False
                    self._d = d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise httpx.DecodingError(f"response body cannot be decoded: {exc}", request=self._request) from exc
            self._raw_fallback = False
            data = d.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < _STEP:
                return  # all input taken and nothing left pending in the decoder


def _undo(stages: Sequence[_Inflate], data: bytes) -> Iterator[bytes]:
    """``data`` through every stage, outermost coding first, in bounded pieces."""
    if not stages:
        yield data
        return
    rest = stages[1:]
    for piece in stages[0].feed(data):
        yield from _undo(rest, piece)


class _Capped:
    """Collects decoded chunks up to the cap; decides whether a plain read is safe and who
    decodes the body."""

    __slots__ = ("by_httpx", "cap", "chunks", "deadline", "request", "response", "size", "stages")

    def __init__(self, request: httpx.Request, response: httpx.Response, cap: int) -> None:
        self.request, self.response, self.cap = request, response, cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.deadline: Deadline | None = request.extensions.get(EXT_DEADLINE)
        self.stages: Sequence[_Inflate] = ()
        self.by_httpx = False

    def plain(self) -> bool:
        """Content-Length within the cap, no coding, no deadline: ``read()`` is safe as it is."""
        response = self.response
        length = response.headers.get("content-length")
        declared = int(length) if length is not None and length.isascii() and length.isdigit() else None
        if declared is not None and declared > self.cap:
            raise _too_large(self.request, response, self.cap)
        if "content-encoding" in response.headers:
            self._plan_decoding()
            return False
        # an unknown or malformed ("10, 10") length, or a deadline to watch: read in steps
        return declared is not None and self.deadline is None

    def _plan_decoding(self) -> None:
        codings = [c.strip().lower() for c in self.response.headers.get_list("content-encoding", split_commas=True)]
        if any(c in _HTTPX_ONLY for c in codings):
            self.by_httpx = True  # brotli / zstandard installed: httpx decodes, per network read
            return
        ours = [c for c in codings if c in ("gzip", "deflate")]  # others pass through, as in httpx
        if len(ours) > _MAX_CODINGS:
            op_id, rid = _describe(self.request)
            raise APIResponseValidationError(
                f"response uses {len(ours)} stacked content codings; at most {_MAX_CODINGS} are decoded",
                status_code=self.response.status_code,
                operation=op_id,
                request_id=rid,
            )
        self.stages = [_Inflate(c, self.request) for c in reversed(ours)]  # the last applied is undone first

    def add(self, raw: bytes) -> None:
        """One network read: decoded within the cap, then the deadline checked."""
        for chunk in _undo(self.stages, raw) if self.stages else (raw,):
            self.size += len(chunk)
            if self.size > self.cap:
                raise _too_large(self.request, self.response, self.cap)
            self.chunks.append(chunk)
        if self.deadline is not None and self.deadline.left() <= 0:
            raise DeadlineExceeded("the call's deadline passed while the body was being read", request=self.request)

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
        if capped.plain():
            response.read()
            return
        for chunk in response.iter_bytes() if capped.by_httpx else response.iter_raw():
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
        if capped.plain():
            await response.aread()
            return
        async for chunk in response.aiter_bytes() if capped.by_httpx else response.aiter_raw():
            capped.add(chunk)
        capped.finish()
    except BaseException:
        await response.aclose()
        raise
