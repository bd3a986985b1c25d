"""Authentication: header values, basic-auth encoding, the string convenience, token refresh,
plain-http refusal, runtime switching under threads, and credentials withheld on redirects.

Network tests use pytest-httpserver on 127.0.0.1 (two servers on two ports are two origins);
the rest use ``httpx.MockTransport`` handlers. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import (
    ApiKeyAuth,
    AuthenticationError,
    AuthScheme,
    AuthType,
    BasicAuth,
    BearerAuth,
    ConfigurationError,
    InsecureTransportError,
    SwitchableAuth,
    TokenProviderAuth,
    auth_from_credential,
    is_loopback_host,
)

# Every test here runs over both ways a hop is sent (conftest.send_path).
pytestmark = pytest.mark.usefixtures("send_path")

OK_PAGE = {"success": True, "data": [], "timestamp": "2024-01-01T00:00:00Z"}
SECURE_URL = "https://api.example.com"
SENSITIVE = ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-custom-key")


def no_sleep(_: float) -> None:
    return None


async def no_asleep(_: float) -> None:
    return None


def ok_handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=OK_PAGE)


def sent_headers(auth: httpx.Auth, url: str = SECURE_URL + "/x") -> httpx.Headers:
    """The headers a request carries once ``auth`` has run (through a real httpx.Client)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(auth=auth, transport=httpx.MockTransport(handler)) as client:
        client.get(url)
    assert len(seen) == 1
    return seen[0].headers


def decode_basic(value: str) -> tuple[str, str]:
    scheme, _, token = value.partition(" ")
    assert scheme == "Basic"
    user, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    assert sep == ":"
    return user, password


# --------------------------------------------------------------------------- header values


def test_bearer_header() -> None:
    headers = sent_headers(BearerAuth("tok-123"))
    assert headers["Authorization"] == "Bearer tok-123"
    assert "x-api-key" not in headers


def test_api_key_default_header() -> None:
    headers = sent_headers(ApiKeyAuth("key-123"))
    assert headers["X-API-Key"] == "key-123"
    assert "authorization" not in headers


def test_api_key_custom_header() -> None:
    auth = ApiKeyAuth("key-123", header="X-Custom-Key")
    headers = sent_headers(auth)
    assert headers["X-Custom-Key"] == "key-123"
    assert "x-api-key" not in headers
    assert auth.header_names == frozenset({"x-custom-key"})


def test_basic_header() -> None:
    headers = sent_headers(BasicAuth("alice", "secret"))
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:secret").decode()


def test_token_provider_header() -> None:
    headers = sent_headers(TokenProviderAuth(lambda: "tp-1"))
    assert headers["Authorization"] == "Bearer tp-1"


def test_switchable_without_auth_sends_no_credentials() -> None:
    headers = sent_headers(SwitchableAuth(None))
    assert not any(name in headers for name in SENSITIVE)


@pytest.mark.parametrize("header", ["", "X Key", "X:Key", "Ключ", "X-Key\r\n", "a/b", "(x)"])
def test_api_key_invalid_header_name_refused(header: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid header name"):
        ApiKeyAuth("k", header=header)


# --------------------------------------------------------------------------- basic auth encoding

SPECIAL_PASSWORD = "p@ss:wörd/ü:\"'"
UNICODE_USER = "Jürgen-Ωμέγα-测试"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", SPECIAL_PASSWORD),
        (UNICODE_USER, SPECIAL_PASSWORD),
        (UNICODE_USER, ""),
        ("bob", " leading and trailing "),
    ],
)
def test_basic_auth_round_trips_at_server(httpserver: HTTPServer, username: str, password: str) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(OK_PAGE)
    with FinOpsClient(
        httpserver.url_for("/").rstrip("/"), auth=BasicAuth(username, password), sleep=no_sleep
    ) as client:
        client.get_resources()
    assert len(httpserver.log) == 1
    received = httpserver.log[0][0].headers["Authorization"]
    assert decode_basic(received) == (username, password)


def test_basic_auth_string_credential_splits_at_first_colon(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(OK_PAGE)
    with FinOpsClient(
        httpserver.url_for("/").rstrip("/"),
        api_key=f"alice:{SPECIAL_PASSWORD}",
        auth_type="basic",
        sleep=no_sleep,
    ) as client:
        client.get_resources()
    assert decode_basic(httpserver.log[0][0].headers["Authorization"]) == ("alice", SPECIAL_PASSWORD)


@pytest.mark.parametrize("username", ["a:b", ":", "user:"])
def test_basic_username_with_colon_refused(username: str) -> None:
    with pytest.raises(ConfigurationError, match="':'"):
        BasicAuth(username, "pw")
    with pytest.raises(ConfigurationError):
        auth_from_credential((username, "pw"), "basic")


def test_basic_non_string_refused() -> None:
    with pytest.raises(ConfigurationError):
        BasicAuth("u", 123)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CR / LF / NUL

BAD_SECRETS = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b"]


@pytest.mark.parametrize("secret", BAD_SECRETS)
@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(lambda s: BearerAuth(s), id="bearer"),
        pytest.param(lambda s: ApiKeyAuth(s), id="api_key"),
        pytest.param(lambda s: BasicAuth("user", s), id="basic-password"),
        pytest.param(lambda s: BasicAuth("user" + s, "pw"), id="basic-username"),
        pytest.param(lambda s: auth_from_credential(s, "bearer"), id="from-credential-bearer"),
        pytest.param(lambda s: auth_from_credential(("u", s), "basic"), id="from-credential-basic"),
    ],
)
def test_control_characters_in_secrets_refused(factory: Callable[[str], Any], secret: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        factory(secret)
    assert secret not in str(info.value)


@pytest.mark.parametrize("secret", BAD_SECRETS)
def test_token_provider_with_control_characters_refused_before_sending(secret: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        pytest.fail("a request carrying a CR/LF token must not be sent")

    with (
        httpx.Client(auth=TokenProviderAuth(lambda: secret), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(ConfigurationError),
    ):
        c.get(SECURE_URL)


@pytest.mark.parametrize("bad", ["", None, 42])
def test_empty_or_non_string_tokens_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        BearerAuth(bad)
    with pytest.raises(ConfigurationError):
        ApiKeyAuth(bad)


def test_set_authentication_with_bad_secret_keeps_previous_auth() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json=OK_PAGE)

    with FinOpsClient(SECURE_URL, api_key="good", transport=httpx.MockTransport(handler), sleep=no_sleep) as client:
        with pytest.raises(ConfigurationError):
            client.set_authentication("bad\r\nkey", "api_key")
        client.get_resources()
    assert seen == ["good"]


# --------------------------------------------------------------------------- auth_from_credential


@pytest.mark.parametrize(
    ("credential", "auth_type", "cls", "header", "value"),
    [
        ("tok", "bearer", BearerAuth, "Authorization", "Bearer tok"),
        ("tok", "Bearer", BearerAuth, "Authorization", "Bearer tok"),
        ("key", "api_key", ApiKeyAuth, "X-API-Key", "key"),
        ("key", "api-key", ApiKeyAuth, "X-API-Key", "key"),
        ("key", "apikey", ApiKeyAuth, "X-API-Key", "key"),
        ("key", "API_KEY", ApiKeyAuth, "X-API-Key", "key"),
        ("user:password", "basic", BasicAuth, "Authorization", "Basic dXNlcjpwYXNzd29yZA=="),
        (("user", "password"), "basic", BasicAuth, "Authorization", "Basic dXNlcjpwYXNzd29yZA=="),
        (("user", "pa:ss"), "BASIC", BasicAuth, "Authorization", "Basic dXNlcjpwYTpzcw=="),
        ("user:pa:ss", "basic", BasicAuth, "Authorization", "Basic dXNlcjpwYTpzcw=="),
        ("user:", "basic", BasicAuth, "Authorization", "Basic dXNlcjo="),
    ],
)
def test_auth_from_credential_table(
    credential: str | tuple[str, str], auth_type: str, cls: type[AuthScheme], header: str, value: str
) -> None:
    auth = auth_from_credential(credential, auth_type)
    assert type(auth) is cls
    assert sent_headers(auth)[header] == value


@pytest.mark.parametrize(
    ("credential", "auth_type", "match"),
    [
        ("tok", "oauth", "unknown auth_type"),
        ("tok", "digest", "unknown auth_type"),
        ("tok", "", "unknown auth_type"),
        ("no-colon", "basic", "username"),
        (("a", "b", "c"), "basic", "username"),
        (("a",), "basic", "username"),
        (("user", "pw"), "bearer", "must be a string"),
        (("user", "pw"), "api_key", "must be a string"),
        ("", "bearer", "non-empty"),
        ("", "api_key", "non-empty"),
    ],
)
def test_auth_from_credential_errors(credential: Any, auth_type: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        auth_from_credential(credential, auth_type)


def test_unknown_auth_type_refused_by_client_and_set_authentication() -> None:
    with pytest.raises(ConfigurationError):
        FinOpsClient(SECURE_URL, api_key="k", auth_type="kerberos", transport=httpx.MockTransport(ok_handler))  # type: ignore[arg-type]
    with FinOpsClient(SECURE_URL, api_key="k", transport=httpx.MockTransport(ok_handler)) as client:
        with pytest.raises(ConfigurationError):
            client.set_authentication("k", "kerberos")  # type: ignore[arg-type]
        assert isinstance(client.auth, ApiKeyAuth)


def test_allow_insecure_http_is_passed_through() -> None:
    for credential, kind in (("t", "bearer"), ("k", "api_key"), ("u:p", "basic")):
        assert auth_from_credential(credential, kind, allow_insecure_http=True).allow_insecure_http
        assert not auth_from_credential(credential, kind).allow_insecure_http


# --------------------------------------------------------------------------- token provider


class Provider:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.tokens.pop(0)


def test_token_provider_refreshes_on_401_and_replays_once() -> None:
    provider = Provider("token-A", "token-B")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-B":
            return httpx.Response(200, json=OK_PAGE)
        return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "expired"}})

    with FinOpsClient(
        SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler), sleep=no_sleep
    ) as client:
        client.get_resources()
        assert seen == ["Bearer token-A", "Bearer token-B"]
        assert provider.calls == 2
        # The fresh token is kept: no more provider calls, no more 401s.
        client.get_resources()
    assert seen == ["Bearer token-A", "Bearer token-B", "Bearer token-B"]
    assert provider.calls == 2


def test_token_provider_second_401_is_not_replayed_again() -> None:
    provider = Provider("token-A", "token-B", "token-C")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})

    with (
        FinOpsClient(
            SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler), sleep=no_sleep
        ) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.get_resources()
    assert info.value.status_code == 401
    assert seen == ["Bearer token-A", "Bearer token-B"]
    assert provider.calls == 2


async def test_token_provider_async_replays_once() -> None:
    provider = Provider("token-A", "token-B")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-B":
            return httpx.Response(200, json=OK_PAGE)
        return httpx.Response(401)

    async with AsyncFinOpsClient(
        SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler), asleep=no_asleep
    ) as client:
        await client.get_resources()
    assert seen == ["Bearer token-A", "Bearer token-B"]
    assert provider.calls == 2


def test_token_provider_replays_post_body_unchanged() -> None:
    provider = Provider("token-A", "token-B")
    bodies: list[bytes] = []
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        keys.append(request.headers.get("idempotency-key"))
        if request.headers["Authorization"] == "Bearer token-A":
            return httpx.Response(401)
        return httpx.Response(
            200, json={"success": True, "accepted": 1, "rejected": [], "timestamp": "2024-01-01T00:00:00Z"}
        )

    item = {"resourceId": "r-1", "resourceType": "vm", "region": "eu-west-1"}
    with FinOpsClient(
        SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler), sleep=no_sleep
    ) as client:
        result = client.post_resources([item])
    assert result.ok
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert b"r-1" in bodies[0]
    assert keys[0] is not None
    assert keys[0] == keys[1]


def test_token_provider_requires_callable() -> None:
    with pytest.raises(ConfigurationError):
        TokenProviderAuth("not-callable")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- plain http


def failing_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        pytest.fail(f"no I/O expected, but {request.url} was sent")

    return httpx.MockTransport(handler)


INSECURE_SCHEMES: list[Callable[..., AuthScheme]] = [
    lambda **kw: BearerAuth("t", **kw),
    lambda **kw: ApiKeyAuth("k", **kw),
    lambda **kw: ApiKeyAuth("k", header="X-Custom-Key", **kw),
    lambda **kw: BasicAuth("u", "p", **kw),
    lambda **kw: TokenProviderAuth(lambda: "t", **kw),
]
SCHEME_IDS = ["bearer", "api_key", "custom_header", "basic", "token_provider"]


@pytest.mark.parametrize("make", INSECURE_SCHEMES, ids=SCHEME_IDS)
@pytest.mark.parametrize(
    "url", ["http://example.com/x", "http://10.0.0.1/x", "http://localhost.example.com/x", "http://[::2]/x"]
)
def test_plain_http_to_remote_host_refused_before_io(make: Callable[..., AuthScheme], url: str) -> None:
    with (
        httpx.Client(auth=make(), transport=failing_transport()) as client,
        pytest.raises(InsecureTransportError, match="plain http"),
    ):
        client.get(url)


@pytest.mark.parametrize("auth_type", ["api_key", "bearer", "basic"])
def test_client_refuses_plain_http_before_io(auth_type: AuthType) -> None:
    credential = "user:pw" if auth_type == "basic" else "secret"
    with FinOpsClient(
        "http://example.com", api_key=credential, auth_type=auth_type, transport=failing_transport()
    ) as client:
        with pytest.raises(InsecureTransportError):
            client.get_resources()
        snapshot = client.get_metrics_snapshot()
        assert snapshot is not None
        assert snapshot.global_metrics.requests == 0


async def test_async_client_refuses_plain_http_before_io() -> None:
    async with AsyncFinOpsClient(
        "http://example.com", api_key="secret", transport=failing_transport(), asleep=no_asleep
    ) as client:
        with pytest.raises(InsecureTransportError):
            await client.get_resources()


@pytest.mark.parametrize("make", INSECURE_SCHEMES, ids=SCHEME_IDS)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://127.0.0.1:8080/x",
        "http://127.1.2.3/x",
        "http://localhost/x",
        "http://LOCALHOST:9000/x",
        "http://api.localhost/x",
        "http://[::1]/x",
        "http://[::1]:8080/x",
    ],
)
def test_plain_http_to_loopback_allowed(make: Callable[..., AuthScheme], url: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(auth=make(), transport=httpx.MockTransport(handler)) as client:
        assert client.get(url).status_code == 200
    assert len(seen) == 1
    assert any(name in seen[0].headers for name in SENSITIVE)


@pytest.mark.parametrize("make", INSECURE_SCHEMES, ids=SCHEME_IDS)
def test_allow_insecure_http_allows_remote_plain_http(make: Callable[..., AuthScheme]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(auth=make(allow_insecure_http=True), transport=httpx.MockTransport(handler)) as c:
        assert c.get("http://example.com/x").status_code == 200
    assert len(seen) == 1


def test_client_allow_insecure_http_flag_applies_to_string_credentials() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json=OK_PAGE)

    with FinOpsClient(
        "http://example.com",
        api_key="k1",
        allow_insecure_http=True,
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    ) as client:
        client.get_resources()
        client.set_authentication("k2", "api_key")  # the flag carries over to new credentials
        client.get_resources()
    assert seen == ["k1", "k2"]


def test_https_to_remote_host_allowed() -> None:
    assert sent_headers(ApiKeyAuth("k"), "https://example.com/x")["X-API-Key"] == "k"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("a.localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("example.com", False),
        ("localhost.example.com", False),
        ("notlocalhost", False),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


# --------------------------------------------------------------------------- runtime switching


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("key-AAAAAAAAAAAAAAAA", "api_key"), ("key-BBBBBBBBBBBBBBBB", "api_key")),
        (("key-AAAAAAAAAAAAAAAA", "api_key"), ("tok-BBBBBBBBBBBBBBBB", "bearer")),
    ],
    ids=["two-api-keys", "api-key-and-bearer"],
)
def test_switching_under_threads_never_mixes_credentials(
    first: tuple[str, AuthType], second: tuple[str, AuthType]
) -> None:
    records: list[dict[str, str]] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        creds = {k: v for k, v in request.headers.items() if k in SENSITIVE}
        with lock:
            records.append(creds)
        return httpx.Response(200, json=OK_PAGE)

    client = FinOpsClient(
        SECURE_URL,
        api_key=first[0],
        auth_type=first[1],
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
        enable_circuit_breaker=False,
    )
    workers, per_worker = 8, 60
    start = threading.Barrier(workers + 1)
    done = threading.Event()
    errors: list[BaseException] = []
    switches = 0
    switched = threading.Event()

    def work() -> None:
        try:
            start.wait()
            for i in range(per_worker):
                if i == per_worker // 2:
                    # Fast workers could finish before the switcher thread is ever scheduled.
                    switched.wait(timeout=10)
                client.get_resources()
        except BaseException as exc:
            errors.append(exc)

    def switch() -> None:
        nonlocal switches
        start.wait()
        while not done.is_set():
            credential, kind = second if switches % 2 == 0 else first
            client.set_authentication(credential, kind)
            switches += 1
            if switches >= 3:
                switched.set()
            done.wait(0.0002)  # hand the GIL to the workers so each credential gets used

    threads = [threading.Thread(target=work) for _ in range(workers)]
    switcher = threading.Thread(target=switch)
    for t in [*threads, switcher]:
        t.start()
    for t in threads:
        t.join(timeout=30)
    done.set()
    switcher.join(timeout=30)
    assert not errors
    assert len(records) == workers * per_worker
    expected = {
        frozenset((n, v) for n, v in sent_headers(auth_from_credential(c, k)).items() if n in SENSITIVE)
        for c, k in (first, second)
    }
    seen = {frozenset(r.items()) for r in records}
    assert seen <= expected, seen - expected  # never a mix, never a torn value
    assert switches > 1
    # Liveness without depending on thread scheduling: each credential, once set, is what goes out.
    for credential, kind in (first, second):
        client.set_authentication(credential, kind)
        client.get_resources()
        want = sent_headers(auth_from_credential(credential, kind))
        assert {n: v for n, v in records[-1].items()} == {n: v for n, v in want.items() if n in SENSITIVE}
    client.close()
    metrics = client.get_performance_metrics()["global_metrics"]
    assert metrics["request_count"] == workers * per_worker + 2
    assert metrics["in_flight"] == 0


class BlockingTransport(httpx.BaseTransport):
    """Holds the first request in flight until released; answers every request with ``respond``."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.requests: list[httpx.Request] = []
        self._respond = respond
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            first = not self.requests
            self.requests.append(request)
        if first:
            self.entered.set()
            assert self.release.wait(10), "test never released the request"
        return self._respond(request)


def run_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def test_request_in_flight_keeps_the_credential_it_started_with() -> None:
    transport = BlockingTransport(lambda r: httpx.Response(200, json=OK_PAGE))
    client = FinOpsClient(SECURE_URL, api_key="old-key", transport=transport, sleep=no_sleep)
    thread, box = run_in_thread(client.get_resources)
    assert transport.entered.wait(10)
    client.set_authentication("new-key", "api_key")
    transport.release.set()
    thread.join(10)
    assert not isinstance(box[0], BaseException), box
    client.get_resources()
    client.close()
    assert [r.headers["x-api-key"] for r in transport.requests] == ["old-key", "new-key"]


def test_in_flight_retry_keeps_the_credential_it_started_with() -> None:
    """A retried request (one logical call) does not pick up a credential set mid-call."""
    statuses = iter([503, 200])
    transport = BlockingTransport(lambda r: httpx.Response(next(statuses), json=OK_PAGE))
    client = FinOpsClient(SECURE_URL, api_key="old-key", transport=transport, sleep=no_sleep)
    thread, box = run_in_thread(client.get_resources)
    assert transport.entered.wait(10)
    client.set_authentication("new-bearer", "bearer")
    transport.release.set()
    thread.join(10)
    client.close()
    assert not isinstance(box[0], BaseException), box
    assert len(transport.requests) == 2
    for request in transport.requests:
        assert request.headers["x-api-key"] == "old-key"
        assert "authorization" not in request.headers


def test_in_flight_custom_header_withheld_from_redirect_after_switch() -> None:
    """Switching scheme while a request is in flight must not unprotect the header it carries:
    its redirect to another origin still withholds X-Custom-Key."""
    other = "https://other.example.net"

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.example.com":
            return httpx.Response(307, headers={"Location": other + "/api/resources"})
        return httpx.Response(200, json=OK_PAGE)

    transport = BlockingTransport(respond)
    client = FinOpsClient(
        SECURE_URL, auth=ApiKeyAuth("custom-secret", header="X-Custom-Key"), transport=transport, sleep=no_sleep
    )
    thread, box = run_in_thread(client.get_resources)
    assert transport.entered.wait(10)
    client.set_authentication("bearer-secret", "bearer")
    transport.release.set()
    thread.join(10)
    client.close()
    assert not isinstance(box[0], BaseException), box
    home, away = transport.requests
    assert home.headers["x-custom-key"] == "custom-secret"
    assert away.url.host == "other.example.net"
    assert "x-custom-key" not in away.headers
    assert "authorization" not in away.headers


def test_switchable_auth_repr_and_current() -> None:
    auth = SwitchableAuth(BearerAuth("tok-secret"))
    assert isinstance(auth.current, BearerAuth)
    assert "tok-secret" not in repr(auth)
    auth.set(None)
    assert auth.current is None
    assert "authorization" in auth.sensitive_headers()


def test_sensitive_headers_cover_current_and_past_custom_headers() -> None:
    auth = SwitchableAuth(None)
    assert {"authorization", "proxy-authorization", "cookie", "x-api-key"} <= auth.sensitive_headers()
    assert "x-custom-key" not in auth.sensitive_headers()
    auth.set(ApiKeyAuth("k", header="X-Custom-Key"))
    assert "x-custom-key" in auth.sensitive_headers()
    auth.set(BearerAuth("t"))
    assert "x-custom-key" in auth.sensitive_headers()  # a request in flight may still carry it
    assert "x-tenant-key" in SwitchableAuth(ApiKeyAuth("k", header="X-Tenant-Key")).sensitive_headers()


def test_set_authentication_accepts_auth_objects_and_none() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({k: v for k, v in request.headers.items() if k in SENSITIVE})
        return httpx.Response(200, json=OK_PAGE)

    with FinOpsClient(SECURE_URL, transport=httpx.MockTransport(handler), sleep=no_sleep) as client:
        client.set_authentication(BasicAuth("u", "p"))
        client.get_resources()
        client.set_authentication("tok", "bearer")  # without auth_type, basic (the scheme in use) is kept
        client.get_resources()
        client.set_authentication(("u", "p:w"), "basic")
        client.get_resources()
        client.set_authentication(None)
        client.get_resources()
    assert seen == [
        {"authorization": "Basic dTpw"},
        {"authorization": "Bearer tok"},
        {"authorization": "Basic " + base64.b64encode(b"u:p:w").decode()},
        {},
    ]


# --------------------------------------------------------------------------- redirects


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    a = HTTPServer(host="127.0.0.1", port=0)
    b = HTTPServer(host="127.0.0.1", port=0)
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def servers(origins: tuple[HTTPServer, HTTPServer]) -> Iterator[tuple[HTTPServer, HTTPServer]]:
    a, b = origins
    a.clear()
    b.clear()
    yield a, b
    a.clear()
    b.clear()


REDIRECT_SECRET = "redirect-secret-9f3c"

# (id, client kwargs, the header that carries the credential at the home origin, its value)
REDIRECT_SCHEMES: list[tuple[str, dict[str, Any], str, str]] = [
    ("api_key", {"api_key": REDIRECT_SECRET}, "X-API-Key", REDIRECT_SECRET),
    ("bearer", {"api_key": REDIRECT_SECRET, "auth_type": "bearer"}, "Authorization", f"Bearer {REDIRECT_SECRET}"),
    (
        "basic",
        {"api_key": f"user:{REDIRECT_SECRET}", "auth_type": "basic"},
        "Authorization",
        "Basic " + base64.b64encode(f"user:{REDIRECT_SECRET}".encode()).decode(),
    ),
    (
        "custom_header",
        {"auth": ApiKeyAuth(REDIRECT_SECRET, header="X-Custom-Key")},
        "X-Custom-Key",
        REDIRECT_SECRET,
    ),
]
EXTRA_HEADERS = {"Cookie": f"session={REDIRECT_SECRET}", "Proxy-Authorization": f"Basic {REDIRECT_SECRET}"}


def base(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


def assert_withheld(request: Any) -> None:
    for name in SENSITIVE:
        assert name not in request.headers, f"{name} reached the other origin"
    for name, value in request.headers.items():
        assert REDIRECT_SECRET not in value, f"the credential reached the other origin in {name}"


def assert_home_received(request: Any, header: str, value: str) -> None:
    assert request.headers.get(header) == value
    assert request.headers.get("Cookie") == EXTRA_HEADERS["Cookie"]
    assert request.headers.get("Proxy-Authorization") == EXTRA_HEADERS["Proxy-Authorization"]


def arrange_cross_origin(a: HTTPServer, b: HTTPServer, status: int) -> None:
    a.expect_request("/api/resources").respond_with_data(
        "", status=status, headers={"Location": b.url_for("/api/landing")}
    )
    b.expect_request("/api/landing").respond_with_json(OK_PAGE)


def arrange_same_origin(a: HTTPServer, status: int) -> None:
    a.expect_request("/api/resources").respond_with_data(
        "", status=status, headers={"Location": a.url_for("/api/landing")}
    )
    a.expect_request("/api/landing").respond_with_json(OK_PAGE)


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(
    ("kwargs", "header", "value"), [s[1:] for s in REDIRECT_SCHEMES], ids=[s[0] for s in REDIRECT_SCHEMES]
)
def test_cross_origin_redirect_withholds_credentials_sync(
    servers: tuple[HTTPServer, HTTPServer], status: int, kwargs: dict[str, Any], header: str, value: str
) -> None:
    a, b = servers
    arrange_cross_origin(a, b, status)
    with FinOpsClient(base(a), headers=EXTRA_HEADERS, sleep=no_sleep, **kwargs) as client:
        page = client.get_resources()
    assert page.success is True
    assert len(a.log) == 1
    assert len(b.log) == 1
    assert_home_received(a.log[0][0], header, value)
    assert_withheld(b.log[0][0])


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(
    ("kwargs", "header", "value"), [s[1:] for s in REDIRECT_SCHEMES], ids=[s[0] for s in REDIRECT_SCHEMES]
)
async def test_cross_origin_redirect_withholds_credentials_async(
    servers: tuple[HTTPServer, HTTPServer], status: int, kwargs: dict[str, Any], header: str, value: str
) -> None:
    a, b = servers
    arrange_cross_origin(a, b, status)
    async with AsyncFinOpsClient(base(a), headers=EXTRA_HEADERS, asleep=no_asleep, **kwargs) as client:
        page = await client.get_resources()
    assert page.success is True
    assert len(a.log) == 1
    assert len(b.log) == 1
    assert_home_received(a.log[0][0], header, value)
    assert_withheld(b.log[0][0])


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(
    ("kwargs", "header", "value"), [s[1:] for s in REDIRECT_SCHEMES], ids=[s[0] for s in REDIRECT_SCHEMES]
)
def test_same_origin_redirect_keeps_credentials_sync(
    servers: tuple[HTTPServer, HTTPServer], status: int, kwargs: dict[str, Any], header: str, value: str
) -> None:
    a, b = servers
    arrange_same_origin(a, status)
    with FinOpsClient(base(a), headers=EXTRA_HEADERS, sleep=no_sleep, **kwargs) as client:
        client.get_resources()
    assert [entry[0].path for entry in a.log] == ["/api/resources", "/api/landing"]
    assert not b.log
    first, second = a.log[0][0], a.log[1][0]
    assert_home_received(first, header, value)
    # httpx re-derives Cookie from its jar on every redirect; the credential headers stay.
    assert second.headers.get(header) == value
    assert second.headers.get("Proxy-Authorization") == EXTRA_HEADERS["Proxy-Authorization"]


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(
    ("kwargs", "header", "value"), [s[1:] for s in REDIRECT_SCHEMES], ids=[s[0] for s in REDIRECT_SCHEMES]
)
async def test_same_origin_redirect_keeps_credentials_async(
    servers: tuple[HTTPServer, HTTPServer], status: int, kwargs: dict[str, Any], header: str, value: str
) -> None:
    a, b = servers
    arrange_same_origin(a, status)
    async with AsyncFinOpsClient(base(a), headers=EXTRA_HEADERS, asleep=no_asleep, **kwargs) as client:
        await client.get_resources()
    assert [entry[0].path for entry in a.log] == ["/api/resources", "/api/landing"]
    assert not b.log
    second = a.log[1][0]
    assert_home_received(a.log[0][0], header, value)
    assert second.headers.get(header) == value
    assert second.headers.get("Proxy-Authorization") == EXTRA_HEADERS["Proxy-Authorization"]


def test_redirect_chain_back_home_withholds_only_on_the_foreign_hop(
    servers: tuple[HTTPServer, HTTPServer],
) -> None:
    """A -> B -> A: B sees nothing; the hop back home is an ordinary home request."""
    a, b = servers
    a.expect_request("/api/resources").respond_with_data("", status=307, headers={"Location": b.url_for("/api/bounce")})
    b.expect_request("/api/bounce").respond_with_data("", status=307, headers={"Location": a.url_for("/api/landing")})
    a.expect_request("/api/landing").respond_with_json(OK_PAGE)
    with FinOpsClient(base(a), auth=ApiKeyAuth(REDIRECT_SECRET, header="X-Custom-Key"), sleep=no_sleep) as c:
        c.get_resources()
    assert len(b.log) == 1
    assert_withheld(b.log[0][0])
    assert a.log[0][0].headers.get("X-Custom-Key") == REDIRECT_SECRET


async def test_async_token_provider_is_awaited_and_refreshed_on_401() -> None:
    tokens = iter(["token-A", "token-B"])
    calls: list[str] = []

    async def provider() -> str:
        await asyncio.sleep(0)  # e.g. a call to an identity provider
        token = next(tokens)
        calls.append(token)
        return token

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-B":
            return httpx.Response(200, json=OK_PAGE)
        return httpx.Response(401)

    async with AsyncFinOpsClient(
        SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler), asleep=no_asleep
    ) as client:
        await client.get_resources()
        await client.get_resources()
    assert seen == ["Bearer token-A", "Bearer token-B", "Bearer token-B"]
    assert calls == ["token-A", "token-B"]


def test_async_token_provider_refused_by_the_sync_client() -> None:
    async def provider() -> str:
        return "never"

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    client = FinOpsClient(SECURE_URL, auth=TokenProviderAuth(provider), transport=httpx.MockTransport(handler))
    with client, pytest.raises(ConfigurationError, match="async token provider needs the async client"):
        client.get_resources()


async def test_async_token_provider_through_a_switch() -> None:
    """set_authentication() to an async provider on a running async client."""

    async def provider() -> str:
        return "token-Z"

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json=OK_PAGE)

    async with AsyncFinOpsClient(
        SECURE_URL, api_key="k-1", transport=httpx.MockTransport(handler), asleep=no_asleep
    ) as client:
        await client.get_resources()
        client.set_authentication(TokenProviderAuth(provider))
        await client.get_resources()
    assert seen == ["", "Bearer token-Z"]
