"""The SDK's error hierarchy.

::

    APIError
    ├── ConfigurationError            bad settings given to the SDK (also a ValueError)
    ├── InsecureTransportError        credentials would cross plain http to a non-loopback host
    ├── RequestValidationError        a request body or argument fails the contract; nothing was sent
    ├── APIConnectionError            no usable answer: connection refused, reset, protocol error
    │   └── APITimeoutError           connect, read, write or pool timeout, or the overall deadline
    ├── CircuitOpenError              rejected by an open circuit breaker; no socket was opened
    ├── ClientClosedError             the client was closed: nothing more is sent (also a RuntimeError)
    ├── WrongEventLoopError           an async client used from another event loop than its own
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
the server's own error code and message (truncated), nothing from request headers, and any
live credential in them is replaced by ``[redacted]``. An SDK error built while a lower-level
exception is handled (the one it is raised ``from``) strips the frames of that exception's
chain, keeping types and messages: a traceback rendered with its locals (Sentry, rich,
``pytest --showlocals``) shows no frame of the HTTP libraries, whose locals hold the request
headers. Errors pickle and copy by type, message and fields; a status error's ``response``
travels as a bare copy (status, allowlisted headers, body, method and URL without query).
"""

from __future__ import annotations

import sys
from typing import Any, Final

import httpx

from ._json import loads
from ._redact import redact_headers, scrub_secrets

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
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

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub_secrets(a) if isinstance(a, str) else a for a in args))
        handled = sys.exc_info()[1]
        if handled is not None:  # the exception this one is about to be raised from
            _detach_frames(handled)

    def __reduce__(self) -> tuple[Any, ...]:
        state = {name: _portable(value) for name, value in self.__dict__.items()}
        return _restore, (type(self), self.args, state)


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


class _CallError(APIError):
    """An error of one call: the message names its operation and request id."""

    def __init__(
        self,
        message: str = "call failed",
        *,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.request_id = request_id
        super().__init__(_describe(message, operation, request_id))


class APIConnectionError(_CallError):
    """The request got no usable answer (refused, reset, closed mid-response, protocol error)."""

    def __init__(
        self,
        message: str = "connection error",
        *,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, request_id=request_id)


class APITimeoutError(APIConnectionError):
    """A timeout (connect, read, write, pool) or the overall retry deadline ran out."""


class CircuitOpenError(APIError):
    """The circuit breaker rejected the call at once; no socket was opened.

    ``retry_in`` is the number of seconds until the breaker lets a probe through (``None`` when
    it is forced open and will not probe on its own); ``failures`` what opened it, each kind
    (``"HTTP 503"``, ``"ConnectError"``) with its count. A call the breaker stopped during its
    retries is chained (``__cause__``) to its last real failure, named by ``last_failure``.
    """

    def __init__(
        self,
        *,
        breaker: str,
        retry_in: float | None,
        operation: str | None = None,
        failures: tuple[tuple[str, int], ...] = (),
        last_failure: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.breaker, self.retry_in, self.operation = breaker, retry_in, operation
        self.failures, self.last_failure, self.request_id = failures, last_failure, request_id
        when = "forced open" if retry_in is None else f"next probe in {retry_in:.3f}s"
        text = f"circuit {breaker!r} is open ({when})"
        if failures:
            total = sum(n for _, n in failures)
            kinds = ", ".join(kind if n == 1 else f"{kind} x{n}" for kind, n in failures)
            text += f", opened by {total} failure{'s' if total > 1 else ''}: {kinds}"
        if last_failure:
            text += f"; this call's last attempt: {last_failure}"
        super().__init__(_describe(text, operation, request_id))


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
    to wait for. ``note``: the SDK's own explanation (on a 401 or 403, which credential was sent).
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        operation: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        note: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.note = note
        self.response = response
        self.status_code = response.status_code
        self.operation = operation
        self.request_id = request_id
        code, message, self.details = _error_body(response)
        self.code = scrub_secrets(code) if code else code
        self.server_message = scrub_secrets(message) if message else message
        text = f"HTTP {self.status_code}"
        if self.code:
            text += f" {self.code}"
        if self.server_message:
            text += f": {self.server_message}"
        if retry_after is not None:
            text += f" (retry after {retry_after:.3f}s)"
        if note:
            text += f"; {note}"
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
    note: str | None = None,
) -> APIStatusError:
    """Build the most specific :class:`APIStatusError` for a non-2xx response; ``note`` ends its
    message (a 401's or 403's: which credential was sent, or how to configure one)."""
    status = response.status_code
    if status == 429:
        cls: type[APIStatusError] = RateLimitError
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = _BY_STATUS.get(status, APIStatusError)
    return cls(response, operation=operation, request_id=request_id, retry_after=retry_after, note=note)


def _detach_frames(handled: BaseException) -> None:
    """Drop the tracebacks of ``handled`` and of every exception chained to it (an SDK error's
    own frames stay), and scrub live credentials from their messages."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [handled]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if not isinstance(exc, APIError):
            exc.__traceback__ = None
            if any(isinstance(a, str) for a in exc.args):
                exc.args = tuple(scrub_secrets(a) if isinstance(a, str) else a for a in exc.args)
        todo += [exc.__cause__, exc.__context__]
        if isinstance(exc, BaseExceptionGroup):
            todo += exc.exceptions


def _bare_request(request: httpx.Request) -> httpx.Request:
    """Method and URL (no userinfo, query or fragment); no headers, no body."""
    return httpx.Request(request.method, request.url.copy_with(query=None, fragment=None, userinfo=b""))


def _bare_response(response: httpx.Response) -> httpx.Response:
    """Status, allowlisted headers (others ``[redacted]``), the body if read, a bare request."""
    try:
        content = response.content
    except httpx.ResponseNotRead:
        content = b""
    framing = ("content-encoding", "content-length", "transfer-encoding")  # the body is stored decoded
    headers = [(k, v) for k, v in redact_headers(response.headers.multi_items()).items() if k.lower() not in framing]
    try:
        request: httpx.Request | None = _bare_request(response.request)
    except RuntimeError:  # a response built without a request
        request = None
    return httpx.Response(response.status_code, headers=headers, content=content, request=request)


def _portable(value: Any) -> Any:
    """A field as it may leave the process: no request headers, no live credential."""
    if isinstance(value, httpx.Response):
        return _bare_response(value)
    if isinstance(value, httpx.Request):
        return _bare_request(value)
    if isinstance(value, str):
        return scrub_secrets(value)
    return value


def _restore(cls: type[APIError], args: tuple[Any, ...], state: dict[str, Any]) -> APIError:
    """Unpickle an SDK error without calling its ``__init__`` (whose arguments differ by class)."""
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


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
        data = loads(content)
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
