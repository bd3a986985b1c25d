"""The SDK's error hierarchy.

::

    APIError
    ├── ConfigurationError            bad settings given to the SDK (also a ValueError)
    ├── InsecureTransportError        credentials would cross plain http to a non-loopback host
    ├── RequestValidationError        a request body or argument fails the contract; nothing was sent
    ├── APIConnectionError            no usable answer: connection refused, reset, protocol error
    │   └── APITimeoutError           connect, read, write or pool timeout, or the overall deadline
    ├── CircuitOpenError              rejected by an open circuit breaker; no socket was opened
    ├── APIResponseValidationError    the server answered 2xx with a body that breaks the contract
    │   └── ResponseTooLargeError     the body exceeded max_response_bytes (memory stays bounded)
    └── APIStatusError                the server answered with a non-2xx status
        ├── BadRequestError           400
        ├── AuthenticationError       401
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── UnprocessableEntityError  422
        ├── RateLimitError            429 (``retry_after`` in seconds when the server said)
        └── InternalServerError       5xx

Messages never carry credentials: they name the operation, the status, the request id and
the server's own error code and message (truncated), nothing from request headers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import httpx

if TYPE_CHECKING:
    from ._batch import BatchResult

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchInterruptedError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "InsecureTransportError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "UnprocessableEntityError",
    "status_error_for",
]

_MAX_SERVER_MESSAGE: Final = 200


class APIError(Exception):
    """Base class of every error the SDK raises on purpose."""


class ConfigurationError(APIError, ValueError):
    """A setting given to the SDK is invalid (bad base URL, negative timeout, unknown auth type...)."""


class InsecureTransportError(APIError):
    """Credentials would be sent over plain http to a host that is not loopback.

    Pass ``allow_insecure_http=True`` to the auth object or client to accept that risk.
    """


class RequestValidationError(APIError, ValueError):
    """A request fails the API contract before anything is sent.

    ``index`` is the item's position in the caller's list (``None`` for a non-list argument),
    ``field`` the JSON path inside the item (``"currentCost"``, ``"tags.env"``).
    """

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None) -> None:
        self.index = index
        self.field = field
        where = []
        if index is not None:
            where.append(f"item {index}")
        if field:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class APIConnectionError(APIError):
    """The request got no usable answer (refused, reset, closed mid-response, protocol error)."""

    def __init__(
        self,
        message: str = "connection error",
        *,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.request_id = request_id
        super().__init__(_describe(message, operation, request_id))


class APITimeoutError(APIConnectionError):
    """A timeout (connect, read, write, pool) or the overall retry deadline ran out."""


class CircuitOpenError(APIError):
    """The circuit breaker rejected the call at once; no socket was opened.

    ``retry_in`` is the number of seconds until the breaker lets a probe through
    (``None`` when it is forced open and will not probe on its own).
    """

    def __init__(
        self,
        *,
        breaker: str,
        retry_in: float | None,
        operation: str | None = None,
    ) -> None:
        self.breaker = breaker
        self.retry_in = retry_in
        self.operation = operation
        when = "forced open" if retry_in is None else f"next probe in {retry_in:.3f}s"
        super().__init__(_describe(f"circuit {breaker!r} is open ({when})", operation, None))


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not JSON or does not match the contract."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.operation = operation
        self.request_id = request_id
        super().__init__(_describe(f"{message} (status {status_code})", operation, request_id))


class ResponseTooLargeError(APIResponseValidationError):
    """The response body exceeded the client's ``max_response_bytes``; reading stopped there."""


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    ``code`` and ``server_message`` come from the contract's Error body when the server sent one;
    ``retry_after`` (seconds) from its Retry-After header on a 429 or 503, or when it was too long
    to wait for.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        operation: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.response = response
        self.status_code = response.status_code
        self.operation = operation
        self.request_id = request_id
        self.code, self.server_message, self.details = _error_body(response)
        text = f"HTTP {self.status_code}"
        if self.code:
            text += f" {self.code}"
        if self.server_message:
            text += f": {self.server_message}"
        if retry_after is not None:
            text += f" (retry after {retry_after:.3f}s)"
        super().__init__(_describe(text, operation, request_id))


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429. ``retry_after`` is the server's Retry-After in seconds, when it sent a valid one."""


class InternalServerError(APIStatusError):
    """5xx."""


_BY_STATUS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
}


def status_error_for(
    response: httpx.Response,
    *,
    operation: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the most specific :class:`APIStatusError` for a non-2xx response."""
    status = response.status_code
    if status == 429:
        cls: type[APIStatusError] = RateLimitError
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = _BY_STATUS.get(status, APIStatusError)
    return cls(response, operation=operation, request_id=request_id, retry_after=retry_after)


def _describe(message: str, operation: str | None, request_id: str | None) -> str:
    parts = [message]
    if operation:
        parts.append(f"operation={operation}")
    if request_id:
        parts.append(f"request_id={request_id}")
    return " ".join(parts) if len(parts) == 1 else f"{parts[0]} [{', '.join(parts[1:])}]"


def _error_body(response: httpx.Response) -> tuple[str | None, str | None, Any]:
    """Read ``{"error": {"code", "message", "details"}}`` when the body has it; never raise."""
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None, None, None
    if not content or len(content) > 1_000_000:
        return None, None, None
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    err = data.get("error")
    if not isinstance(err, dict):
        return None, None, None
    code = err.get("code")
    message = err.get("message")
    return (
        str(code)[:64] if code is not None else None,
        str(message)[:_MAX_SERVER_MESSAGE] if message is not None else None,
        err.get("details"),
    )


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


# -- the client's own refusals (each in the hierarchy above: one line a class) -------------------
__all__ += ["ClientClosedError", "CrossOriginRedirectError", "RedirectLoopError"]


class ClientClosedError(APIError, RuntimeError):
    """The client was closed: nothing more is sent. Every later call raises this (also a
    ``RuntimeError``, what httpx raised before); a call in flight ends with it or its answer."""

    def __init__(
        self,
        message: str = "the client is closed",
        *,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.request_id = request_id
        super().__init__(_describe(message, operation, request_id))


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
