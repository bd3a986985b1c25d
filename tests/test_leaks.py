"""Credentials stay put outside the happy path: user headers on a cross-origin redirect, pickled
and copied errors, tracebacks rendered with their locals, base URLs quoted in errors, secret-named
body keys, the live credential wherever it turns up, signed redirect URLs in logs, and header reprs.
"""

from __future__ import annotations

import base64
import copy
import gc
import logging
import multiprocessing
import pickle
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, cast

import httpx
import pytest
from finops_api_client import FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import (
    APIConnectionError,
    APIError,
    ApiKeyAuth,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BasicAuth,
    BearerAuth,
    CircuitOpenError,
    ClientConfig,
    ConfigurationError,
    CredentialGuardTransport,
    InsecureTransportError,
    LoggingTransport,
    RequestValidationError,
    ResponseTooLargeError,
    TokenProviderAuth,
    redact_body,
    status_error_for,
)
from tests.support import Driver, resource

CANARY = f"CANARY-leak-{uuid.uuid4().hex}"
BASIC_USER = "canary-user"
BASIC_TOKEN = base64.b64encode(f"{BASIC_USER}:{CANARY}".encode()).decode()
FORBIDDEN = (CANARY, BASIC_TOKEN)
OK_PAGE = {"success": True, "data": [], "timestamp": "2024-01-01T00:00:00Z"}

SCHEMES: dict[str, dict[str, Any]] = {
    "api_key": {"api_key": CANARY},
    "basic": {"api_key": f"{BASIC_USER}:{CANARY}", "auth_type": "basic"},
    "user_header": {"headers": {"X-Auth-Token": CANARY}},
}


def assert_clean(where: str, text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"the canary leaked into {where}"


def base(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


# --------------------------------------------------------------------------- 8. user credential headers


async def test_user_credential_headers_are_withheld_from_another_origin(
    driver: Driver, httpserver: HTTPServer, other_origin: HTTPServer
) -> None:
    user_headers = {
        "X-Auth-Token": CANARY,
        "X-Client-Secret": CANARY,
        "X-Session-Id": CANARY,
        "X-Tenant": "acme",
    }
    httpserver.expect_request("/api/resources").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/api/landing")}
    )
    other_origin.expect_request("/api/landing").respond_with_json(OK_PAGE)
    driver.open(base(httpserver), api_key=CANARY, headers=user_headers)

    page = await driver.call("get_resources")

    assert page.success is True
    home, foreign = httpserver.log[0][0], other_origin.log[0][0]
    for name in ("X-Auth-Token", "X-Client-Secret", "X-Session-Id", "X-API-Key"):
        assert home.headers.get(name) == CANARY, f"{name} did not reach the home origin"
        assert name not in foreign.headers, f"{name} reached the other origin"
    assert foreign.headers.get("X-Tenant") == "acme"  # not a credential: it follows the redirect
    for name, value in foreign.headers.items():
        assert CANARY not in value, f"the credential reached the other origin in {name}"


@pytest.mark.parametrize(
    "name",
    [
        "X-Auth-Token",
        "X-Refresh-Token",
        "X-Client-Secret",
        "X-Vault-Password",
        "X-Passwd",
        "X-Api-Key",
        "Api_Key",
        "X-Access-Key",
        "X-Private-Key",
        "X-Session",
        "X-JWT",
        "X-Amz-Signature",
        "X-Credentials",
        "Sentry-DSN",
    ],
)
async def test_credential_guard_withholds_every_secret_named_header(driver: Driver, name: str) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    guard = CredentialGuardTransport(httpx.MockTransport(record), "https://home.example", frozenset)
    for url in ("https://home.example/a", "https://other.example/a"):
        await driver.send(guard, httpx.Request("GET", url, headers={name: "v", "X-Tenant": "acme"}))

    home, foreign = seen
    assert home.headers.get(name) == "v"
    assert name not in foreign.headers
    assert foreign.headers.get("X-Tenant") == "acme"


# --------------------------------------------------------------------------- 9. errors pickle safely


def leaky_request(url: str = "https://api.example.com/api/resources?limit=5") -> httpx.Request:
    return httpx.Request(
        "GET",
        url,
        headers={"X-API-Key": CANARY, "Authorization": f"Basic {BASIC_TOKEN}", "X-Request-ID": "rid-1"},
    )


def status_error(status: int = 500, **kwargs: Any) -> APIStatusError:
    body = {"error": {"code": "boom", "message": "it broke", "details": {"n": 1}}}
    response = httpx.Response(
        status, json=body, headers={"Set-Cookie": f"s={CANARY}", "Retry-After": "3"}, request=leaky_request()
    )
    return status_error_for(response, operation="get_resources", request_id="rid-1", **kwargs)


def every_error() -> list[APIError]:
    return [
        status_error(),
        status_error(401),
        status_error(429, retry_after=3.0),
        APIConnectionError("connection failed (ReadError)", operation="get_resources", request_id="rid-1"),
        APITimeoutError("request timed out (ReadTimeout)", operation="get_resources"),
        CircuitOpenError(breaker="api", retry_in=1.5, operation="get_resources"),
        CircuitOpenError(breaker="api", retry_in=None),
        APIResponseValidationError("not JSON", status_code=200, operation="get_resources", request_id="r"),
        ResponseTooLargeError("too big", status_code=200),
        RequestValidationError("is not a number", index=3, field="currentCost"),
        ConfigurationError("bad setting"),
        InsecureTransportError("refusing plain http"),
    ]


ATTRIBUTES = (
    "status_code",
    "retry_after",
    "operation",
    "request_id",
    "code",
    "server_message",
    "details",
    "breaker",
    "retry_in",
    "index",
    "field",
)


def assert_same_error(back: BaseException, err: BaseException) -> None:
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.args == err.args
    for name in ATTRIBUTES:
        if hasattr(err, name):
            assert getattr(back, name) == getattr(err, name), name


@pytest.mark.parametrize("err", every_error(), ids=lambda e: type(e).__name__)
def test_errors_pickle_and_copy_with_type_message_and_fields(err: APIError) -> None:
    data = pickle.dumps(err)
    assert_clean("the pickle", data.decode("latin-1"))
    back = pickle.loads(data)
    assert_same_error(back, err)
    assert_same_error(copy.deepcopy(err), err)
    assert_same_error(copy.copy(err), err)


def test_a_pickled_status_error_keeps_a_bare_response() -> None:
    back = pickle.loads(pickle.dumps(status_error(503)))
    assert isinstance(back, APIStatusError)
    assert back.response.status_code == 503
    assert back.response.json()["error"]["code"] == "boom"
    assert back.response.headers["retry-after"] == "3"
    assert back.response.headers["set-cookie"] == "[redacted]"
    request = back.response.request
    assert (request.method, str(request.url)) == ("GET", "https://api.example.com/api/resources")
    assert "x-api-key" not in request.headers
    assert "authorization" not in request.headers


@pytest.mark.parametrize("scheme", ["api_key", "basic", "user_header"])
async def test_errors_of_real_calls_pickle_without_the_credential(
    driver: Driver, httpserver: HTTPServer, scheme: str
) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(
        {"error": {"code": "unauthorized", "message": "bad credentials"}}, status=401
    )
    driver.open(base(httpserver), **SCHEMES[scheme])
    with pytest.raises(AuthenticationError) as info:
        await driver.call("get_resources")
    data = pickle.dumps(info.value)
    assert_clean("the pickle", data.decode("latin-1"))
    assert_same_error(pickle.loads(data), info.value)


def raise_status_error() -> None:
    """Run in a worker process."""
    raise status_error(500)


def test_a_process_pool_worker_raising_an_error_does_not_break_the_pool() -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(APIStatusError) as info:
            pool.submit(raise_status_error).result()
        assert pool.submit(int, "7").result() == 7  # the pool still works
    assert_same_error(info.value, status_error(500))


# --------------------------------------------------------------------------- 10. traceback locals


def every_rendered_frame(exc: BaseException) -> Iterator[tuple[str, str]]:
    """(where, text) for every exception message and every local of every frame of the whole
    chain (``__cause__``, ``__context__``), rendered as Sentry, rich or ``--showlocals`` would."""
    top = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [top]
    while todo:
        te = todo.pop()
        if te is None or id(te) in seen:
            continue
        seen.add(id(te))
        yield f"{te.exc_type!r} message", "".join(te.format_exception_only())
        for frame in te.stack:
            for name, value in (frame.locals or {}).items():
                yield f"{te.exc_type!r} frame {frame.name} ({frame.filename}) local {name}", value
        todo.extend([te.__cause__, te.__context__, *(te.exceptions or [])])


def assert_no_credential_in_frames(exc: BaseException) -> None:
    frames = list(every_rendered_frame(exc))
    assert len(frames) > 5, "nothing rendered: the test is not looking"
    for where, text in frames:
        assert_clean(where, text)
    assert_clean("the formatted traceback", "".join(traceback.format_exception(exc)))


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class CloseAfterRequest:
    """A raw loopback server that reads each request and closes without answering."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if conn.recv(65536):
                    self.requests += 1

    def stop(self) -> None:
        self.sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def closer() -> Iterator[CloseAfterRequest]:
    server = CloseAfterRequest()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_no_credential_in_traceback_locals_of_a_refused_connection(driver: Driver, scheme: str) -> None:
    driver.open(f"http://127.0.0.1:{unused_port()}", max_retries=0, **SCHEMES[scheme])
    with pytest.raises(APIConnectionError) as info:
        await driver.call("get_resources")
    assert info.value.__cause__ is not None  # still chained
    assert_no_credential_in_frames(info.value)


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_no_credential_in_traceback_locals_of_a_connection_closed_after_the_request(
    driver: Driver, closer: CloseAfterRequest, scheme: str
) -> None:
    driver.open(closer.url, max_retries=0, **SCHEMES[scheme])
    with pytest.raises(APIConnectionError) as info:
        await driver.call("get_resources")
    assert closer.requests >= 1
    assert info.value.__cause__ is not None
    assert type(info.value.__cause__).__name__ in {"RemoteProtocolError", "ReadError"}
    assert_no_credential_in_frames(info.value)


def test_the_frame_walk_sees_a_credential_in_a_lower_frame() -> None:
    """The check above is live: a local deep in the cause's frames is found."""

    def lower(headers: dict[str, str]) -> None:
        raise OSError("reset")

    try:
        try:
            lower({"x-api-key": CANARY})
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as err:
        with pytest.raises(AssertionError, match="leaked"):
            assert_no_credential_in_frames(err)


# --------------------------------------------------------------------------- 11. smaller leaks

BAD_BASE_URLS = [
    f"https://api.example.com/?api_key={CANARY}",
    f"https://api.example.com/v1#access_token={CANARY}",
    f"https://{BASIC_USER}:{CANARY}@api.example.com/",
    f"https://{BASIC_USER}:{CANARY}@api.example.com:bad/",
    f"ftp://api.example.com/?token={CANARY}",
    f"api.example.com/?token={CANARY}",
]


def assert_error_clean(err: BaseException) -> None:
    e: BaseException | None = err
    while e is not None:
        assert_clean(f"str({type(e).__name__})", str(e))
        assert_clean(f"repr({type(e).__name__})", repr(e))
        e = e.__cause__ or e.__context__


@pytest.mark.parametrize("url", BAD_BASE_URLS)
def test_configuration_error_never_quotes_a_base_urls_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(base_url=url)
    assert_error_clean(info.value)
    assert "api.example.com" in str(info.value)  # still says which URL


def test_configuration_error_never_quotes_a_base_url_of_the_wrong_type() -> None:
    with pytest.raises(ConfigurationError, match="must be a string, got bytes") as info:
        ClientConfig(base_url=cast(Any, f"https://api.example.com/?api_key={CANARY}".encode()))
    assert_error_clean(info.value)


@pytest.mark.parametrize("url", BAD_BASE_URLS)
def test_configuration_error_never_quotes_a_base_urls_secrets_from_the_environment(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINOPS_API_URL", url)
    with pytest.raises(ConfigurationError) as info:
        FinOpsClient()
    assert_error_clean(info.value)


@pytest.mark.parametrize(
    "key",
    [
        "passwd",
        "pwd",
        "private_key",
        "privateKey",
        "access_key",
        "awsAccessKey",
        "session",
        "sessionId",
        "cookie",
        "jwt",
        "dsn",
        "signature",
    ],
)
def test_body_redaction_covers_every_secret_name(key: str) -> None:
    text = redact_body(f'{{"{key}": "{CANARY}", "region": "eu-west-1"}}')
    assert_clean(f"the redacted body ({key})", text)
    assert "eu-west-1" in text


async def test_a_server_echoing_the_credential_does_not_put_it_in_the_error(
    driver: Driver, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(
        {"error": {"code": "revoked", "message": f"key {CANARY} was revoked"}}, status=401
    )
    driver.open(base(httpserver), api_key=CANARY)
    with pytest.raises(AuthenticationError) as info:
        await driver.call("get_resources")
    assert_error_clean(info.value)
    assert "was revoked" in str(info.value)
    assert info.value.server_message is not None
    assert_clean("server_message", info.value.server_message)


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_the_live_credential_is_scrubbed_from_logged_bodies_and_dry_run_previews(
    driver: Driver, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="resilience")
    item = resource(1, tags={"note": f"pasted {CANARY} here"})
    httpserver.expect_request("/api/resources", method="POST").respond_with_json(
        {"success": True, "accepted": 1, "rejected": [], "timestamp": "2024-01-01T00:00:00Z"}
    )
    driver.open(base(httpserver), **SCHEMES[scheme])
    result = await driver.post_resources([item])
    assert result.ok
    assert "pasted" in caplog.text  # the body was logged ...
    assert_clean("the DEBUG log", caplog.text)  # ... without the credential
    for record in caplog.records:
        assert_clean(f"log record {record.name}", record.getMessage())

    dry = Driver(driver.mode, driver.ft).open(base(httpserver), dry_run=True, **SCHEMES[scheme])
    try:
        report = await dry.post_resources([item])
    finally:
        await dry.close()
    assert report.dry_run is not None
    assert "pasted" in report.dry_run.body_preview
    assert_clean("the dry-run preview", report.dry_run.body_preview)


def test_every_credential_form_is_scrubbed_from_error_messages_while_its_holder_lives() -> None:
    provider = TokenProviderAuth(lambda: CANARY + "-provided")
    flow = provider.sync_auth_flow(httpx.Request("GET", "https://api.example.com/"))
    assert next(flow).headers["Authorization"] == f"Bearer {CANARY}-provided"
    holders = [
        (ApiKeyAuth(CANARY + "-key"), [CANARY + "-key"]),
        (BearerAuth(CANARY + "-bearer"), [CANARY + "-bearer"]),
        (BasicAuth("alice", CANARY + "-pw"), [CANARY + "-pw", f"alice:{CANARY}-pw"]),
        (provider, [CANARY + "-provided"]),
        (ClientConfig(api_key=CANARY + "-config"), [CANARY + "-config"]),
        (ClientConfig(headers={"X-Auth-Token": CANARY + "-header", "X-Tenant": "acme"}), [CANARY + "-header"]),
    ]
    basic_b64 = base64.b64encode(f"alice:{CANARY}-pw".encode()).decode()
    for _, secrets in holders:
        for secret in [*secrets, basic_b64]:
            text = str(APIConnectionError(f"server said <{secret}>", operation="op"))
            assert secret not in text
            assert "server said <[redacted]" in text
    assert str(APIConnectionError("tenant acme")) == "tenant acme"  # a non-secret header value stays

    del holders, provider, flow
    gc.collect()  # the SDK holds no credential alive: once its holder is gone, it is not known
    assert CANARY + "-key" in str(APIConnectionError(f"<{CANARY}-key>"))


def test_a_short_credential_is_not_scrubbed_everywhere() -> None:
    """A one-letter password would turn every message into noise; it is left alone."""
    auth = BasicAuth("u", "p")
    assert str(ConfigurationError("plain text")) == "plain text"
    assert auth.username == "u"


def test_every_sdk_logger_scrubs_the_live_credential(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = ApiKeyAuth(CANARY)
    names = [n for n in logging.Logger.manager.loggerDict if n == "resilience" or n.startswith("resilience.")]
    assert {"resilience.http", "resilience.client", "resilience.retry", "resilience.breaker"} <= set(names)
    for name in names:
        logging.getLogger(name).debug("key=%s", CANARY)
    assert len(caplog.records) == len(names)
    assert_clean("the SDK's log lines", caplog.text)
    assert caplog.text.count("key=[redacted]") == len(names)
    logging.getLogger("tests.leaks").debug("key=%s", CANARY)  # the caller's loggers are left alone
    assert CANARY in caplog.records[-1].getMessage()
    assert auth.header == "X-API-Key"


def arrange_signed_redirect(server: HTTPServer) -> None:
    server.expect_request("/api/resources").respond_with_data(
        "", status=302, headers={"Location": f"/api/landing?X-Amz-Signature={CANARY}&limit=5"}
    )
    server.expect_request("/api/landing").respond_with_json(OK_PAGE)


async def test_a_signed_redirect_url_is_not_in_the_debug_log(driver: Driver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="resilience")
    signed = f"https://bucket.example/report.csv?X-Amz-Signature={CANARY}"
    layer = LoggingTransport(httpx.MockTransport(lambda _: httpx.Response(302, headers={"Location": signed})))
    response = await driver.send(layer, httpx.Request("GET", "https://api.example.com/api/report"))
    assert response.headers["location"] == signed  # httpx still gets it, to follow
    assert any("status=302" in r.getMessage() for r in caplog.records)
    assert_clean("the DEBUG log", caplog.text)


async def test_httpx_info_line_shows_no_query_values(
    driver: Driver, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    arrange_signed_redirect(httpserver)
    driver.open(base(httpserver))
    await driver.call("get_resources")
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/api/landing?X-Amz-Signature=[redacted]&limit=[redacted]" in line for line in lines), lines
    for line in lines:
        assert_clean("httpx's INFO line", line)


async def test_the_httpx_client_headers_repr_hides_credentials(driver: Driver) -> None:
    driver.open("https://api.example.com", headers={"X-API-Key": CANARY, "X-Auth-Token": CANARY, "X-Tenant": "acme"})
    headers = driver.client.httpx_client.headers
    assert headers["x-api-key"] == CANARY  # still sent
    assert_clean("repr(httpx_client.headers)", repr(headers))
    assert "x-tenant" in repr(headers).lower()
