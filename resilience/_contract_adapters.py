"""openapi-core's Request and Response protocols over recorded httpx or werkzeug traffic, for the contract checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

if TYPE_CHECKING:
    from werkzeug.wrappers import Request as WerkzeugRequest
    from werkzeug.wrappers import Response as WerkzeugResponse

__all__: list[str] = []


class _AdaptedRequest:
    """openapi-core's ``Request`` protocol over the raw parts of an HTTP request."""

    def __init__(
        self,
        *,
        method: str,
        host_url: str,
        raw_path: str,
        query: Any,
        headers: Any,
        cookies: Any,
        body: bytes | None,
        content_type: str,
    ) -> None:
        from openapi_core.datatypes import RequestParameters

        self._method = method.lower()
        self._host_url = host_url
        self._path = raw_path
        self._body = body
        self._content_type = content_type
        self.parameters = RequestParameters(query=query, header=headers, cookie=cookies)

    @property
    def method(self) -> str:
        return self._method

    @property
    def host_url(self) -> str:
        return self._host_url

    @property
    def path(self) -> str:
        return self._path

    @property
    def body(self) -> bytes | None:
        return self._body

    @property
    def content_type(self) -> str:
        return self._content_type

    @property
    def full_url(self) -> str:
        return urljoin(self._host_url, self._path)


class _AdaptedResponse:
    """openapi-core's ``Response`` protocol."""

    def __init__(self, status_code: int, headers: Any, data: bytes | None, content_type: str) -> None:
        self._status_code = status_code
        self._headers = headers
        self._data = data
        self._content_type = content_type

    @property
    def status_code(self) -> int:
        return self._status_code

    @property
    def headers(self) -> Any:
        return self._headers

    @property
    def data(self) -> bytes | None:
        return self._data

    @property
    def content_type(self) -> str:
        return self._content_type


def _adapt_request(request: httpx.Request | WerkzeugRequest) -> _AdaptedRequest:
    from werkzeug.datastructures import Headers, ImmutableMultiDict
    from werkzeug.http import parse_cookie
    from werkzeug.wrappers import Request

    if isinstance(request, httpx.Request):
        url = request.url
        raw = url.raw_path.decode("ascii").split("?", 1)[0]
        headers = Headers(list(request.headers.multi_items()))
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:
            body = request.read()
        return _AdaptedRequest(
            method=request.method,
            host_url=f"{url.scheme}://{url.netloc.decode('ascii')}/",
            raw_path=raw or "/",
            query=ImmutableMultiDict(list(url.params.multi_items())),
            headers=headers,
            cookies=parse_cookie(request.headers.get("cookie", "")),
            body=body,
            content_type=request.headers.get("content-type", "application/octet-stream").lower(),
        )
    if isinstance(request, Request):
        environ = request.environ
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if isinstance(raw_uri, str) and raw_uri:
            raw = urlsplit(raw_uri).path
        else:  # the server kept no raw URI: re-encode (an encoded "/" cannot be told apart)
            raw = quote(request.root_path + request.path)
        return _AdaptedRequest(
            method=request.method,
            host_url=request.host_url,
            raw_path=raw or "/",
            query=ImmutableMultiDict(request.args),
            headers=Headers(request.headers),
            cookies=request.cookies,
            body=request.get_data(cache=True, as_text=False),
            content_type=(request.content_type or "application/octet-stream").lower(),
        )
    raise TypeError(f"expected an httpx.Request or a werkzeug Request, got {type(request).__name__}")


def _adapt_response(response: httpx.Response | WerkzeugResponse) -> _AdaptedResponse:
    from werkzeug.datastructures import Headers
    from werkzeug.wrappers import Response

    if isinstance(response, httpx.Response):
        try:
            data = response.content
        except httpx.ResponseNotRead:
            data = response.read()
        ctype = response.headers.get("content-type", "")
        return _AdaptedResponse(
            response.status_code,
            Headers(list(response.headers.multi_items())),
            data,
            ctype.split(";", 1)[0].strip().lower(),
        )
    if isinstance(response, Response):
        return _AdaptedResponse(
            response.status_code,
            Headers(response.headers),
            response.get_data(as_text=False),
            (response.mimetype or "").lower(),
        )
    raise TypeError(f"expected an httpx.Response or a werkzeug Response, got {type(response).__name__}")


def _path_of(request: httpx.Request | WerkzeugRequest) -> str:
    if isinstance(request, httpx.Request):
        return request.url.raw_path.decode("ascii")
    return str(request.full_path).rstrip("?")
