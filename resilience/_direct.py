"""The per-request fast path: a hop sent straight to the layer stack, past httpx's client.

``httpx.Client.send`` costs ~20 µs a request before any byte moves: the auth flow generator,
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
from typing import Final

import httpx
from httpx._client import BoundAsyncStream, BoundSyncStream

from ._auth import PinnedAuth

__all__: list[str] = []  # internal: used by the drivers

_log: Final = logging.getLogger("httpx")  # httpx's own "HTTP Request: ..." line, as it logs it


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
    http.cookies.extract_cookies(response)
    response.default_encoding = http._default_encoding
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
