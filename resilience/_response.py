"""From an answer to a value or a typed error: status errors, transport errors, decoding.

Pure functions of a response (or an httpx exception) and the operation it answers: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from ._call import call_record_of
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    status_error_for,
)
from ._operation import Operation, operation_of
from ._retry import parse_retry_after
from ._validation import Invalid, Validator

__all__ = ["no_body"]

T = TypeVar("T")


def _op_id(request: httpx.Request) -> str | None:
    op = operation_of(request)
    return op.operation_id if op is not None else None


def status_error(response: httpx.Response, wall_clock: Callable[[], float]) -> APIStatusError:
    """The typed error of a non-2xx answer, with the Retry-After the call did not wait for."""
    request = response.request
    retry_after = call_record_of(request).retry_after
    if retry_after is None and response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=wall_clock)
    return status_error_for(
        response,
        operation=_op_id(request),
        request_id=request.headers.get("x-request-id"),
        retry_after=retry_after,
    )


def transport_error(exc: httpx.HTTPError, request: httpx.Request) -> APIError:
    """httpx's exception as ours: a timeout, a connection failure, or a bad URL."""
    op = _op_id(request)
    rid = request.headers.get("x-request-id")
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({type(exc).__name__})", operation=op, request_id=rid)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigurationError(f"invalid request URL: {exc}")
    return APIConnectionError(f"connection failed ({type(exc).__name__})", operation=op, request_id=rid)


def _invalid(response: httpx.Response, op: Operation, message: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        message,
        status_code=response.status_code,
        operation=op.operation_id,
        request_id=response.request.headers.get("x-request-id"),
    )


def decode(response: httpx.Response, op: Operation, max_bytes: int, validator: Validator | None) -> Any:
    """The JSON of a 2xx body, checked against the operation's response schema when given."""
    if len(response.content) > max_bytes:
        raise _invalid(response, op, f"response body of {len(response.content)} bytes exceeds max_response_bytes")
    try:
        data = json.loads(response.content)
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise _invalid(response, op, f"response body is not valid JSON (content-type {ctype})") from None
    except RecursionError:
        raise _invalid(response, op, "response body is nested too deeply to decode") from None
    if validator is not None:
        try:
            validator(data, "")
        except Invalid as exc:
            message = f"response breaks the contract at {exc.path or '<root>'}: {exc.message}"
            raise _invalid(response, op, message) from None
        except RecursionError:
            raise _invalid(response, op, "response is nested too deeply to check against the contract") from None
    return data


def build(data: Any, parse: Callable[[Any], T], response: httpx.Response, op: Operation) -> T:
    """The generated model of decoded data; a body the model refuses is a typed error."""
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise _invalid(response, op, f"response could not be parsed: {type(exc).__name__}") from exc


def no_body(_: Any) -> None:
    """The parse of an answer without a body (a 204): there is nothing to build."""
    return None
