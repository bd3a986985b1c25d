"""From an answer to a value or a typed error: status errors, transport errors, decoding.

Pure functions of a response (or an httpx exception) and the operation it answers: no I/O.
"""

from __future__ import annotations

import gc
import socket
import ssl
from collections.abc import Callable
from typing import Any, Final, TypeVar

import httpx

from ._auth import ApiKeyAuth, BasicAuth, BearerAuth, SwitchableAuth, scheme_of
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
from ._json import is_too_deep, loads
from ._operation import Operation, operation_of
from ._redact import SECRET_KEY_PATTERN
from ._retry import parse_retry_after
from ._validation import Invalid, Validator

__all__ = ["no_body"]

T = TypeVar("T")


def _op_id(request: httpx.Request) -> str | None:
    op = operation_of(request)
    return op.operation_id if op is not None else None


def status_error(
    response: httpx.Response,
    wall_clock: Callable[[], float],
    credentials: Callable[[httpx.Response], str] | None = None,
) -> APIStatusError:
    """The typed error of a non-2xx answer, with the Retry-After the call did not wait for;
    a 401's or 403's message ends with ``credentials(response)`` (see :func:`credential_note`)."""
    request = response.request
    status = response.status_code
    retry_after = call_record_of(request).retry_after
    if retry_after is None and status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=wall_clock)
    return status_error_for(
        response,
        operation=_op_id(request),
        request_id=request.headers.get("x-request-id"),
        retry_after=retry_after,
        note=credentials(response) if credentials is not None and status in (401, 403) else None,
    )


#: How an ``Authorization`` header's first word names what it carries; any other first word
#: may be the secret itself, and is never quoted.
_SCHEMES: Final = {"bearer": "a bearer token", "basic": "basic credentials", "digest": "digest credentials"}


def _carried(request: httpx.Request, auth: SwitchableAuth) -> list[str]:
    """What credentials the request carried, one phrase per header, never a value."""
    names = auth.sensitive_headers()
    phrases = []
    for raw_name, raw_value in request.headers.raw:
        name = raw_name.decode("latin-1")
        lower = name.lower()
        if lower in ("cookie", "proxy-authorization"):  # the server's session, the proxy's credential
            continue
        if lower == "authorization":
            what = _SCHEMES.get(raw_value.split(b" ", 1)[0].decode("latin-1").lower(), "a credential")
        elif lower in names:
            what = "an API key"
        elif SECRET_KEY_PATTERN.search(name):
            what = "a credential"
        else:
            continue
        phrases.append(f"{what} in the {name} header")
    return phrases


def credential_note(response: httpx.Response, auth: SwitchableAuth, env_prefix: str, home: str) -> str:
    """Why a 401 or 403 may have come: the scheme and header of the credential the request
    carried (never its value), or that none was configured and how to give one. ``home``: the
    client's origin, the only one its credentials go to."""
    current = auth.current
    kind = scheme_of(current)
    carried = _carried(response.request, auth)
    if current is None and not carried:
        return (
            "no credential was sent, none is configured: pass api_key= (and auth_type=) or auth= to the client, "
            f"or set {env_prefix}_API_KEY (and {env_prefix}_AUTH_TYPE)"
        )
    if isinstance(current, BearerAuth | ApiKeyAuth | BasicAuth):
        source = f"auth_type={kind!r}"
    else:
        source = f"auth={type(current).__name__}" if current is not None else "headers="
    if not carried:
        url = response.request.url
        if f"{url.scheme}://{url.netloc.decode('ascii')}" != home:
            return f"no credential was sent: a redirect led to another origin, which {source} is never sent to"
        return f"no credential was sent: {source} set none"
    sent = f"sent {' and '.join(carried)} ({source})"
    if response.status_code == 403:
        return f"{sent}: the server refuses this operation to that credential (its permissions?)"
    if not isinstance(current, BearerAuth | ApiKeyAuth | BasicAuth):
        return f"{sent}: the server did not accept it; check the credential"
    other = " or ".join(repr(t) for t in ("api_key", "bearer", "basic") if t != kind)
    return f"{sent}: the server did not accept it; check the credential, or whether the API wants auth_type {other}"


def transport_error(exc: httpx.HTTPError, request: httpx.Request) -> APIError:
    """httpx's exception as ours: a timeout, a connection failure, or a bad URL."""
    op = _op_id(request)
    rid = request.headers.get("x-request-id")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigurationError(f"invalid request URL: {exc}")
    if isinstance(exc, httpx.LocalProtocolError):  # nothing was sent: a mistake of this side
        return ConfigurationError(
            "a request header is not valid HTTP (a control character, or whitespace around a value, "
            "in a header set by headers= or an auth object); nothing was sent (value not shown)"
        )
    where = _host_port(request.url)
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request to {where} timed out: {_why(exc)}", operation=op, request_id=rid)
    return APIConnectionError(f"connection to {where} failed: {_why(exc)}", operation=op, request_id=rid)


def _host_port(url: httpx.URL) -> str:
    port = url.port or {"https": 443, "http": 80}.get(url.scheme)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{port}"


_TIMEOUTS: Final = {
    httpx.ConnectTimeout: "connect timeout (no connection within the timeout)",
    httpx.ReadTimeout: "read timeout (no answer within the timeout)",
    httpx.WriteTimeout: "write timeout (the request could not be sent within the timeout)",
    httpx.PoolTimeout: "pool timeout (no free connection within the timeout)",
}
#: Words in an error's text (httpcore's, aiohttp's, the OS's), most specific first.
_CLUES: Final = (
    (("certificate", "ssl", "tls", "handshake"), "TLS"),
    (
        ("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo", "no address"),
        "name resolution failed",
    ),
    (("connection refused", "connect call failed"), "connection refused"),
    (("connection reset", "reset by peer"), "connection reset by the server"),
    (("network is unreachable", "no route to host"), "network unreachable"),
    (
        ("server disconnected", "closed", "without sending", "incomplete"),
        "the server closed the connection before a complete answer",
    ),
)


def _why(exc: BaseException) -> str:
    """Why a connection failed, in a user's words: refused, name resolution, TLS, which timeout;
    the exception's own type name when nothing more specific is known."""
    for kind, text in _TIMEOUTS.items():
        if isinstance(exc, kind):
            return text
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in chain:
        if isinstance(link, ssl.SSLError):
            return f"TLS: {getattr(link, 'reason', None) or 'handshake failed'}"
        if isinstance(link, socket.gaierror):
            return "name resolution failed"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
    text = " ".join(str(link).lower() for link in chain)
    for words, reason in _CLUES:
        if any(w in text for w in words):
            if reason == "TLS":
                return "TLS: " + ("certificate verify failed" if "certificate" in text else "handshake failed")
            return reason
    return type(exc).__name__


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
        data = loads(response.content)
    except ValueError as exc:
        if is_too_deep(exc):
            raise _invalid(response, op, "response body is nested too deeply to decode") from None
        ctype = response.headers.get("content-type", "?")
        raise _invalid(response, op, f"response body is not valid JSON (content-type {ctype})") from None
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
    """The generated model of decoded data; a body the model refuses is a typed error.

    The cyclic garbage collector is paused while the models are built (unless the caller had
    already turned it off): a page of 1,000 resources makes some 5,000 objects, none of them in a
    cycle, and the collections their allocation triggers cost about half of ``from_dict``
    (measured: 146,000 against 451,000 items/s). A pause lasts one answer (milliseconds); another
    thread's cycles are collected at the next collection after it.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise _invalid(response, op, f"response could not be parsed: {type(exc).__name__}") from exc
    finally:
        if paused:
            gc.enable()


def no_body(_: Any) -> None:
    """The parse of an answer without a body (a 204): there is nothing to build."""
    return None
