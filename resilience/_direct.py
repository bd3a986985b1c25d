"""The per-request fast path: a request built, and a hop sent, past httpx's client machinery.

:func:`build_request` makes what ``httpx.Client.build_request`` makes for the generated
methods' kwargs (params, headers, a bytes body) without its merges (~20 µs: the client's
headers copied three times, its cookie jar walked, its params and URL merged); a client
holding cookies or params, or any other kwarg, takes httpx's own.

``httpx.Client.send`` costs ~10 µs a request before any byte moves: the auth flow generator,
the redirect loop, event hooks, a request context, the stream wrapping. When none of it can
change the outcome (no event hooks, no mounts, our own header auth or none), the driver sends
the first hop itself and does for it what ``_send_single_request`` does: the same transport,
the same cookies extracted, the same ``httpx`` log line. A redirect answer (a 3xx with a
Location) is then handed to httpx's own redirect loop, exactly as its loop would have gone on
(the next hop built by httpx, this answer in its history): nothing is ever sent twice, and
every redirect rule (the gate, the credential guard, httpx's own stripping) holds as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import httpx
from httpx._client import BoundAsyncStream, BoundSyncStream

from ._auth import PinnedAuth

__all__: list[str] = []  # internal: used by the drivers

_log: Final = logging.getLogger("httpx")  # httpx's own "HTTP Request: ..." line, as it logs it
_FAST_KWARGS: Final = frozenset({"params", "headers", "content"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    kw: Mapping[str, Any],
    extensions: dict[str, Any],
) -> httpx.Request:
    """``http.build_request(method, url, extensions=extensions, **kw)``, the same request
    (method, URL, headers in order, body, extensions with the client's timeout)."""
    content = kw.get("content")
    if (
        not _FAST_KWARGS.issuperset(kw)
        or not (content is None or isinstance(content, bytes))
        or getattr(http.cookies.jar, "_cookies", True)  # cookies: httpx sets the Cookie header
        or http.params
        or url.is_relative_url
    ):
        return http.build_request(method, url, extensions=extensions, **kw)
    params = kw.get("params")
    if params is not None:
        url = httpx.URL(url, params=params)
    items = list(http.headers._list)
    given = kw.get("headers")
    if given:  # Headers.update: a given name replaces every client header of that name
        extra = httpx.Headers(given)._list
        names = {e[1] for e in extra}
        items = [e for e in items if e[1] not in names]
        items += extra
    body = b"" if content is None else content
    names = {e[1] for e in items}
    if body and b"content-length" not in names:
        items.append((b"Content-Length", b"content-length", str(len(body)).encode()))
        names.add(b"content-length")
    method = method.upper()
    auto: list[tuple[bytes, bytes, bytes]] = []  # Request._prepare's, in front
    if b"host" not in names and url.host:
        auto.append((b"Host", b"host", url.netloc))
    if b"content-length" not in names and b"transfer-encoding" not in names and method in _BODY_METHODS:
        auto.append((b"Content-Length", b"content-length", b"0"))
    headers = httpx.Headers()
    headers._list = auto + items
    if "timeout" not in extensions:
        extensions = {**extensions, "timeout": http.timeout.as_dict()}
    request = httpx.Request.__new__(httpx.Request)  # what Request.__init__ sets, set directly
    request.method = method
    request.url = url
    request.headers = headers
    request.extensions = extensions
    request.stream = httpx.ByteStream(body)
    request._content = body
    return request


def direct(http: httpx.Client | httpx.AsyncClient, request: httpx.Request, auth: httpx.Auth | None) -> bool:
    """May this request skip ``http.send``? If so, its auth is applied now (nothing else is
    done, and the request is left untouched, when not)."""
    hooks = http._event_hooks
    if hooks["request"] or hooks["response"] or http._mounts:
        return False
    if auth is None:  # httpx would take a Basic credential from the URL's userinfo
        return not request.url._uri_reference.userinfo
    return isinstance(auth, PinnedAuth) and auth.apply_inline(request)


def _answered(http: httpx.Client | httpx.AsyncClient, request: httpx.Request, response: httpx.Response) -> None:
    """What httpx does to each answer of a hop before its redirect loop looks at it."""
    response.request = request
    if any(e[1] == b"set-cookie" for e in response.headers._list):  # the jar is walked for nothing else
        http.cookies.extract_cookies(response)
    response.default_encoding = http._default_encoding
    if _log.isEnabledFor(logging.INFO):
        _log.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )


def send_sync(http: httpx.Client, transport: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    """The first hop of ``request`` through ``transport``; its redirects through httpx's loop."""
    if "timeout" not in request.extensions:
        http._set_timeout(request)
    if not isinstance(request.stream, httpx.SyncByteStream):
        raise RuntimeError("Attempted to send an async request with an httpx.Client instance.")  # noqa: TRY004 (as httpx)
    start = time.perf_counter()
    try:
        response = transport.handle_request(request)
    except httpx.RequestError as exc:  # as httpx's request_context: the error names its request
        exc.request = request
        raise
    response.stream = BoundSyncStream(response.stream, response=response, start=start)  # type: ignore[arg-type]
    _answered(http, request, response)
    if not response.has_redirect_location:
        return response
    try:
        hop = http._build_redirect_request(request, response)
        if not http.follow_redirects:
            response.next_request = hop
            return response
        response.read()
    except BaseException:
        response.close()
        raise
    return http._send_handling_redirects(hop, follow_redirects=True, history=[response])


async def send_async(
    http: httpx.AsyncClient, transport: httpx.AsyncBaseTransport, request: httpx.Request
) -> httpx.Response:
    """The first hop of ``request`` through ``transport``; its redirects through httpx's loop."""
    if "timeout" not in request.extensions:
        http._set_timeout(request)
    if not isinstance(request.stream, httpx.AsyncByteStream):
        raise RuntimeError("Attempted to send an sync request with an AsyncClient instance.")  # noqa: TRY004 (as httpx)
    start = time.perf_counter()
    try:
        response = await transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    response.stream = BoundAsyncStream(response.stream, response=response, start=start)  # type: ignore[arg-type]
    _answered(http, request, response)
    if not response.has_redirect_location:
        return response
    try:
        hop = http._build_redirect_request(request, response)
        if not http.follow_redirects:
            response.next_request = hop
            return response
        await response.aread()
    except BaseException:
        await response.aclose()
        raise
    return await http._send_handling_redirects(hop, follow_redirects=True, history=[response])
