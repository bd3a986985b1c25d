"""Authentication as :class:`httpx.Auth` objects.

Each scheme's ``auth_flow`` only sets headers (no I/O), so one generator serves the sync and
async clients alike. :class:`SwitchableAuth` lets a client change scheme or credential at run
time: a request reads the current auth once, at its start, and keeps it to the end.
Secrets never appear in a ``repr``, and each scheme registers its credential for scrubbing
(:func:`resilience._redact.scrub_secrets`) from every SDK message and log line while it lives.
"""

from __future__ import annotations

import base64
import functools
import inspect
import ipaddress
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable

import httpx

from ._credentials import AuthType, auth_type_named, check_credential, check_text_secret
from ._errors import ConfigurationError, InsecureTransportError
from ._redact import hold_secrets

__all__ = [
    "ApiKeyAuth",
    "AuthScheme",
    "BasicAuth",
    "BearerAuth",
    "PinnedAuth",
    "SwitchableAuth",
    "TokenProviderAuth",
    "auth_from_credential",
    "is_loopback_host",
]

#: Headers that carry credentials in any scheme; withheld on every cross-origin redirect (with
#: the auth's own and every header whose name matches ``SECRET_KEY_PATTERN``).
DEFAULT_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


@functools.lru_cache(maxsize=256)
def is_loopback_host(host: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 and ::1."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class AuthScheme(httpx.Auth):
    """Base of our schemes: refuses plain http to non-loopback hosts unless allowed."""

    #: Lower-case names of the headers this scheme writes.
    header_names: frozenset[str] = frozenset({"authorization"})
    #: The credential in every form it takes on the wire, scrubbed from SDK text while the
    #: scheme lives (set before ``__init__`` ends; a half-built scheme holds none).
    _secrets: tuple[str, ...] = ()

    def __init__(self, *, allow_insecure_http: bool = False) -> None:
        self.allow_insecure_http = allow_insecure_http
        hold_secrets(self)

    def _secret_values(self) -> Iterable[str]:
        return self._secrets

    def _check_transport(self, request: httpx.Request) -> None:
        url = request.url
        if url.scheme == "http" and not self.allow_insecure_http and not is_loopback_host(url.host):
            raise InsecureTransportError(
                f"refusing to send credentials over plain http to {url.host!r}; use https, "
                "or pass allow_insecure_http=True to accept the risk"
            )

    def _apply(self, request: httpx.Request) -> None:
        raise NotImplementedError

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Refuse plain http to a non-loopback host (unless allowed), set the credential header, send once."""
        self._check_transport(request)
        self._apply(request)
        yield request


class BearerAuth(AuthScheme):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str, *, allow_insecure_http: bool = False) -> None:
        super().__init__(allow_insecure_http=allow_insecure_http)
        check_text_secret("token", token, header=True)
        self._value = f"Bearer {token}"
        self._secrets = (token,)

    def _apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = self._value

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class ApiKeyAuth(AuthScheme):
    """An API key in a header, ``X-API-Key`` by default."""

    def __init__(self, key: str, header: str = "X-API-Key", *, allow_insecure_http: bool = False) -> None:
        super().__init__(allow_insecure_http=allow_insecure_http)
        check_text_secret("key", key, header=True)
        if not header or not header.isascii() or any(c in header for c in ' :\r\n\t"(),/;<=>?@[\\]{}'):
            raise ConfigurationError(f"invalid header name {header!r}")
        self._key = key
        self._secrets = (key,)
        self.header = header
        self.header_names = frozenset({header.lower()})

    def _apply(self, request: httpx.Request) -> None:
        request.headers[self.header] = self._key

    def __repr__(self) -> str:
        return f"ApiKeyAuth(key='***', header={self.header!r})"


class BasicAuth(AuthScheme):
    """HTTP Basic: ``base64(user ":" password)`` in UTF-8, any password characters."""

    def __init__(self, username: str, password: str, *, allow_insecure_http: bool = False) -> None:
        super().__init__(allow_insecure_http=allow_insecure_http)
        if not isinstance(username, str) or not isinstance(password, str):
            raise ConfigurationError("username and password must be strings")
        if ":" in username:
            raise ConfigurationError("a basic-auth username cannot contain ':' (RFC 7617)")
        if any(c in username + password for c in "\r\n\x00"):
            raise ConfigurationError("basic-auth credentials cannot contain CR, LF or NUL")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._value = f"Basic {token}"
        self._secrets = (password, f"{username}:{password}", token)

    def _apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = self._value

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"


class TokenProviderAuth(AuthScheme):
    """A bearer token from a callable; on a 401 the token is refreshed and the request replayed once.

    The provider is a plain callable, or a coroutine function for async clients (a sync client
    refuses one with a clear error). It is called once at first use and again after a 401,
    never under a lock, so a slow provider blocks no other request; two concurrent refreshes
    may both call it.
    """

    _token: str | None = None

    def __init__(
        self, provider: Callable[[], str] | Callable[[], Awaitable[str]], *, allow_insecure_http: bool = False
    ) -> None:
        super().__init__(allow_insecure_http=allow_insecure_http)
        if not callable(provider):
            raise ConfigurationError("provider must be a callable returning the current token")
        self._provider = provider
        self._is_async = inspect.iscoroutinefunction(provider)
        self._lock = threading.Lock()

    def _secret_values(self) -> Iterable[str]:
        token = self._token
        return (token,) if token is not None else ()

    def _cached(self, stale: str | None) -> str | None:
        """The cached token if it is usable (set, and not the one that just got a 401)."""
        with self._lock:
            token = self._token
        return token if token is not None and token != stale else None

    def _store(self, fresh: object) -> str:
        fresh = check_text_secret("the token provider's token", fresh, header=True)
        with self._lock:
            self._token = fresh
        hold_secrets(self)  # the new token is scrubbed from now on
        return fresh

    def _refresh(self, stale: str | None) -> str:
        if self._is_async:
            raise ConfigurationError("an async token provider needs the async client")
        cached = self._cached(stale)
        if cached is not None:
            return cached  # someone else refreshed already
        return self._store(self._provider())  # outside the lock: may do I/O

    async def _refresh_async(self, stale: str | None) -> str:
        cached = self._cached(stale)
        if cached is not None:
            return cached
        fresh = self._provider()
        if inspect.isawaitable(fresh):
            fresh = await fresh
        return self._store(fresh)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the cached token; on a 401 ask the provider for a fresh one and replay once."""
        self._check_transport(request)
        token = self._refresh(None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self._refresh(token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As :meth:`auth_flow`, awaiting a coroutine provider."""
        self._check_transport(request)
        token = await self._refresh_async(None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = await self._refresh_async(token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def __repr__(self) -> str:
        return f"TokenProviderAuth(provider={type(self._provider).__name__})"


class SwitchableAuth(httpx.Auth):
    """Holds the current auth; :meth:`set` swaps it for the next request, thread-safely.

    A request in flight keeps the auth it started with: the flow reads ``_current`` once.
    """

    def __init__(self, auth: httpx.Auth | None = None) -> None:
        self._current = auth
        self._lock = threading.Lock()
        self._sensitive = DEFAULT_SENSITIVE_HEADERS | _header_names(auth)
        self._pinned_checked = PinnedAuth(auth, checked=True)

    @property
    def current(self) -> httpx.Auth | None:
        """The auth the next call reads (``None``: no credential)."""
        return self._current

    def set(self, auth: httpx.Auth | None) -> None:
        """Switch to ``auth`` for the next calls; calls in flight keep theirs."""
        with self._lock:
            # Widen before switching: a request in flight may still carry the old auth's header.
            self._sensitive = self._sensitive | _header_names(auth)
            self._current = auth
            self._pinned_checked = PinnedAuth(auth, checked=True)

    def sensitive_headers(self) -> frozenset[str]:
        """Every header name a credential may travel in, for the cross-origin guard: the
        defaults plus those of every auth held so far (a request in flight may still carry
        the header of an auth switched away from)."""
        return self._sensitive

    def check_transport(self, request: httpx.Request) -> None:
        """Refuse, before anything is sent or counted, a credential bound for plain http."""
        auth = self._current
        if isinstance(auth, AuthScheme):
            auth._check_transport(request)

    def pinned(self, *, checked: bool = False) -> PinnedAuth:
        """The auth in force now, for one logical call: its retries keep it. ``checked``: the
        caller refuses insecure transport itself (:meth:`check_transport`) before each call."""
        if checked:
            return self._pinned_checked
        return PinnedAuth(self._current)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The current auth's flow, read once for this request."""
        return PinnedAuth(self._current).sync_auth_flow(request)

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The current auth's async flow, read once for this request."""
        return PinnedAuth(self._current).async_auth_flow(request)

    def __repr__(self) -> str:
        return f"SwitchableAuth({self._current!r})"


def _applied_inline(auth: httpx.Auth | None, request: httpx.Request, checked: bool = False) -> bool:
    """No auth, or one of our one-header schemes (applied here, without a second generator);
    ``False`` for any other auth, whose own flow must run."""
    if auth is None:
        return True
    if isinstance(auth, AuthScheme) and type(auth).auth_flow is AuthScheme.auth_flow:
        if not checked:
            auth._check_transport(request)
        auth._apply(request)
        return True
    return False


class PinnedAuth(httpx.Auth):
    """One auth, held for one logical call. It delegates to the auth's ``sync_auth_flow`` /
    ``async_auth_flow``, so an auth that overrides those (httpx's way for auths doing I/O)
    works as it would on a plain httpx client."""

    __slots__ = ("_auth", "_checked")

    def __init__(self, auth: httpx.Auth | None, *, checked: bool = False) -> None:
        self._auth = auth
        self._checked = checked

    def apply_inline(self, request: httpx.Request) -> bool:
        """Apply the held auth now if it is none or one of our one-header schemes (``True``);
        ``False``, the request untouched, when only its own flow may apply it."""
        return _applied_inline(self._auth, request, self._checked)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Apply the held auth to one request (and its replays), on the sync client."""
        auth = self._auth
        if _applied_inline(auth, request, self._checked):
            yield request
            return
        assert auth is not None
        yield from auth.sync_auth_flow(request)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Apply the held auth to one request (and its replays), on the async client."""
        auth = self._auth
        if _applied_inline(auth, request, self._checked):
            yield request
            return
        assert auth is not None
        flow = auth.async_auth_flow(request)
        request_out = await flow.__anext__()
        while True:
            response = yield request_out
            try:
                request_out = await flow.asend(response)
            except StopAsyncIteration:
                return

    def __repr__(self) -> str:
        return f"PinnedAuth({self._auth!r})"


def auth_from_credential(
    credential: str | tuple[str, str],
    auth_type: AuthType | str = "bearer",
    *,
    allow_insecure_http: bool = False,
    header: str = "X-API-Key",
    name: str = "credential",
) -> AuthScheme:
    """The string convenience: ``("token", "bearer")``, ``("key", "api_key")`` (in ``header``),
    ``("user:password" or (user, password), "basic")``. A credential that could not be sent
    (see :func:`~resilience._credentials.check_credential`) is refused, naming ``name``."""
    kind = auth_type_named(auth_type)
    value = check_credential(name, credential, kind)
    if isinstance(value, tuple):
        return BasicAuth(*value, allow_insecure_http=allow_insecure_http)
    if kind == "bearer":
        return BearerAuth(value, allow_insecure_http=allow_insecure_http)
    return ApiKeyAuth(value, header, allow_insecure_http=allow_insecure_http)


def successor(
    current: httpx.Auth | None,
    credential: str | tuple[str, str],
    auth_type: AuthType | None,
    fallback: AuthType | None,
    *,
    allow_insecure_http: bool = False,
) -> AuthScheme:
    """The auth of a string ``credential`` replacing ``current``: sent per ``auth_type``, else
    in the scheme in use (an API key in the header in use), else per ``fallback`` or api_key."""
    kind = auth_type_named(auth_type) if auth_type is not None else scheme_of(current) or fallback or "api_key"
    header = current.header if isinstance(current, ApiKeyAuth) else "X-API-Key"
    return auth_from_credential(
        credential, kind, allow_insecure_http=allow_insecure_http, header=header, name="credential"
    )


def scheme_of(auth: httpx.Auth | None) -> AuthType | None:
    """The ``auth_type`` a string credential takes to replace ``auth`` (None: not one of ours)."""
    if isinstance(auth, ApiKeyAuth):
        return "api_key"
    if isinstance(auth, BasicAuth):
        return "basic"
    if isinstance(auth, BearerAuth | TokenProviderAuth):
        return "bearer"
    return None


def _header_names(auth: httpx.Auth | None) -> frozenset[str]:
    names: frozenset[str] = getattr(auth, "header_names", frozenset())
    return frozenset(n.lower() for n in names)
