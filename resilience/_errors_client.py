"""The client's own refusals and interruptions: a closed client, a redirect loop, a write
redirected to another origin, another event loop, an interrupted batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import APIConnectionError, APIError, _CallError

if TYPE_CHECKING:
    from ._batch import BatchResult

__all__ = [
    "BatchInterruptedError",
    "ClientClosedError",
    "CrossOriginRedirectError",
    "RedirectLoopError",
    "WrongEventLoopError",
]


class BatchInterruptedError(APIError):
    """A batched call stopped before its end: an exception escaped it (from below, or from
    the caller's ``progress`` callback; it is this error's ``__cause__``).

    ``result`` is the partial :class:`~resilience.BatchResult`: chunks the server answered as
    usual, the chunk that was on the wire as outcome unknown (with its key), chunks never sent
    as not delivered (with their planned keys). Pass it back as ``resume=`` with the same items:
    every chunk is re-sent under its key, so the server stores every item once. A
    ``KeyboardInterrupt`` or ``CancelledError`` is re-raised as itself, with that ``result``
    attached as its ``.result``.
    """

    def __init__(self, message: str, *, result: BatchResult | None = None) -> None:
        self.result = result
        super().__init__(message)


class ClientClosedError(_CallError, RuntimeError):
    """The client was closed: nothing more is sent. Every later call raises this (also a
    ``RuntimeError``, what httpx raised before); a call in flight ends with it or its answer."""

    def __init__(
        self,
        message: str = "the client is closed",
        *,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, request_id=request_id)


class RedirectLoopError(APIConnectionError):
    """The server redirected more often than the client follows (``max_redirects``, 20): a loop."""


class CrossOriginRedirectError(APIConnectionError):
    """A write (POST, PUT, PATCH, DELETE) was redirected to another origin and not followed:
    nothing was sent there. ``origin`` is where the redirect pointed (``scheme://host:port``)."""

    def __init__(
        self,
        message: str = "a write was redirected to another origin",
        *,
        origin: str | None = None,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.origin = origin
        super().__init__(message, operation=operation, request_id=request_id)


class WrongEventLoopError(APIError, RuntimeError):
    """An async client used from another event loop than its own (where it was created, else
    first used): nothing was sent. Create one client per event loop (per ``asyncio.run``)."""
