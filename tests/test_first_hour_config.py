"""The first hour: a mistyped credential, auth type or environment variable is refused when the
client is built (naming the parameter or variable, never echoing a secret), a local error never
counts against the backend in the breaker, and a 401 / 403 says what was sent, sync and async."""

from __future__ import annotations

import base64
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from finops_api_client import FinOpsClient
from pytest_httpserver import HTTPServer

from reference_backend import ReferenceBackend
from resilience import (
    APIError,
    ApiKeyAuth,
    AuthenticationError,
    BearerAuth,
    CircuitBreakerConfig,
    CircuitOpenError,
    ClientConfig,
    ConfigurationError,
    PermissionDeniedError,
)
from tests.support import Driver, FakeTime, base, page

#: A credential that must never appear in an error message.
CANARY = "sk-canary-Qm7x2ZpL9w"
UNUSED_URL = "https://finops.invalid"

# --------------------------------------------------------------------------- 1. bad credentials

#: Leading or trailing whitespace, or a control character anywhere: a copy-paste mistake.
BAD_CREDENTIALS = [
    pytest.param(CANARY + " ", id="trailing-space"),
    pytest.param(" " + CANARY, id="leading-space"),
    pytest.param(CANARY + "\t", id="trailing-tab"),
    pytest.param(CANARY + "\n", id="trailing-newline"),
    pytest.param(CANARY[:5] + "\x01" + CANARY[5:], id="inner-control"),
    pytest.param(CANARY + "\x7f", id="del"),
]


def assert_not_echoed(error: BaseException, credential: str) -> None:
    text = f"{error} {error!r} {error.args!r}"
    assert credential.strip() not in text
    assert CANARY[5:] not in text  # nor a piece of it


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
@pytest.mark.parametrize("auth_type", ["api_key", "bearer", "basic"])
async def test_bad_credential_refused_when_the_client_is_built(driver: Driver, credential: str, auth_type: str) -> None:
    value = credential
    if auth_type == "basic":  # "user:password", the whitespace around the whole
        value = " alice:" + credential[1:] if credential.startswith(" ") else "alice:" + credential
    with pytest.raises(ConfigurationError) as info:
        driver.open(UNUSED_URL, api_key=value, auth_type=auth_type)
    assert "api_key" in str(info.value)
    assert_not_echoed(info.value, credential)


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
async def test_bad_credential_refused_by_set_authentication(driver: Driver, credential: str) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json=page())

    async with driver.open(UNUSED_URL, api_key="good-key", transport=httpx.MockTransport(handler)) as d:
        for auth_type in (None, "api_key", "bearer"):
            with pytest.raises(ConfigurationError) as info:
                d.client.set_authentication(credential, auth_type)
            assert "credential" in str(info.value)
            assert_not_echoed(info.value, credential)
        await d.call("get_resources")
    assert seen == ["good-key"]  # the previous credential stays in force


@pytest.mark.parametrize("auth_type", ["api_key", "bearer"])
async def test_a_non_ascii_header_credential_refused_when_the_client_is_built(driver: Driver, auth_type: str) -> None:
    """A header cannot carry it as is: today a bare ``UnicodeEncodeError`` at the first call."""
    with pytest.raises(ConfigurationError) as info:
        driver.open(UNUSED_URL, api_key="ké-" + CANARY, auth_type=auth_type)
    assert "api_key" in str(info.value)
    assert_not_echoed(info.value, CANARY)


@pytest.mark.parametrize(
    "local_error",
    [
        pytest.param(httpx.LocalProtocolError("Illegal header value"), id="bad-header"),
        pytest.param(httpx.UnsupportedProtocol("Request URL has an unsupported protocol"), id="bad-url"),
    ],
)
async def test_a_local_error_never_counts_as_a_backend_failure(driver: Driver, local_error: Exception) -> None:
    """What the HTTP library refuses to send (a malformed header...) says nothing about the
    backend: the breaker stays closed after more than ``failure_threshold`` of them, and the
    health check still sees the healthy backend."""

    failing = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/health":
            return httpx.Response(200, json={"status": "ok"})
        if failing[0]:
            raise local_error
        return httpx.Response(200, json=page())

    threshold = 2
    async with driver.open(
        UNUSED_URL,
        transport=httpx.MockTransport(handler),
        max_retries=0,
        circuit_breaker_config=CircuitBreakerConfig(failure_threshold=threshold),
    ) as d:
        for _ in range(threshold + 3):
            with pytest.raises(APIError) as info:
                await d.call("get_resources")
            assert not isinstance(info.value, CircuitOpenError)
        breaker = d.client.circuit_breaker
        assert breaker is not None
        assert breaker.state.value == "closed"
        failing[0] = False  # the local mistake fixed: the backend was healthy all along
        report = await d.call("health_check")
    assert report.healthy, report
    assert report.circuit_breaker == "closed"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Tenant": CANARY + " "}, id="trailing-space"),
        pytest.param({"X-Tenant": CANARY + "\n"}, id="newline"),
        pytest.param({"X-Tenant": "acmé-" + CANARY}, id="non-ascii"),
    ],
)
async def test_bad_extra_header_refused_when_the_client_is_built(driver: Driver, headers: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        driver.open(UNUSED_URL, headers=headers)
    assert "X-Tenant" in str(info.value)
    assert_not_echoed(info.value, CANARY)


# --------------------------------------------------------------------------- 2. auth_type


def recording_handler(seen: list[dict[str, str]]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        names = ("authorization", "x-api-key", "x-tenant-key")
        seen.append({n: v for n, v in request.headers.items() if n in names})
        return httpx.Response(200, json=page())

    return handler


@pytest.mark.parametrize(
    ("options", "new", "expected"),
    [
        pytest.param({"api_key": "k1"}, "k2", {"x-api-key": "k2"}, id="api_key-default"),
        pytest.param({"api_key": "k1", "auth_type": "api_key"}, "k2", {"x-api-key": "k2"}, id="api_key"),
        pytest.param({"api_key": "t1", "auth_type": "bearer"}, "t2", {"authorization": "Bearer t2"}, id="bearer"),
        pytest.param(
            {"api_key": "u:p1", "auth_type": "basic"},
            "u:p2",
            {"authorization": "Basic " + base64.b64encode(b"u:p2").decode()},
            id="basic",
        ),
        pytest.param(
            {"auth": ApiKeyAuth("k1", header="X-Tenant-Key")}, "k2", {"x-tenant-key": "k2"}, id="custom-header"
        ),
        pytest.param({"auth": BearerAuth("t1")}, "t2", {"authorization": "Bearer t2"}, id="bearer-object"),
        pytest.param({"auth_type": "bearer"}, "t2", {"authorization": "Bearer t2"}, id="none-yet-bearer"),
        pytest.param({}, "k2", {"x-api-key": "k2"}, id="none-yet-default"),
    ],
)
async def test_set_authentication_keeps_the_scheme_in_use(
    driver: Driver, options: dict[str, Any], new: str, expected: dict[str, str]
) -> None:
    seen: list[dict[str, str]] = []
    async with driver.open(UNUSED_URL, transport=httpx.MockTransport(recording_handler(seen)), **options) as d:
        d.client.set_authentication(new)
        await d.call("get_resources")
    assert seen == [expected]


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("bearr", "bearer"), ("api-ky", "api_key"), ("Basik", "basic"), ("apikye", "api_key")],
)
async def test_unknown_auth_type_suggests_the_nearest(driver: Driver, typo: str, suggestion: str) -> None:
    with pytest.raises(ConfigurationError) as built:
        driver.open(UNUSED_URL, api_key="k", auth_type=typo)
    assert f"did you mean {suggestion!r}" in str(built.value)
    assert "auth_type" in str(built.value)
    with pytest.raises(ConfigurationError) as config:
        ClientConfig(auth_type=typo)  # type: ignore[arg-type]
    assert f"did you mean {suggestion!r}" in str(config.value)


async def test_set_authentication_unknown_auth_type_suggests_the_nearest(driver: Driver) -> None:
    async with driver.open(UNUSED_URL, api_key="k") as d:
        with pytest.raises(ConfigurationError) as info:
            d.client.set_authentication("t", "bearre")  # type: ignore[arg-type]
        assert "did you mean 'bearer'" in str(info.value)
        assert isinstance(d.client.auth, ApiKeyAuth)


def test_auth_type_is_a_literal_of_the_schemes() -> None:
    from resilience import AuthType

    assert typing.get_args(AuthType) == ("api_key", "bearer", "basic")
    hints = typing.get_type_hints(FinOpsClient.__init__)
    assert set(typing.get_args(hints["auth_type"])) == {AuthType, type(None)}
    set_hints = typing.get_type_hints(FinOpsClient.set_authentication)
    assert set(typing.get_args(set_hints["auth_type"])) == {AuthType, type(None)}


async def test_auth_type_read_from_the_environment(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINOPS_AUTH_TYPE", "bearer")
    monkeypatch.setenv("FINOPS_API_KEY", "t-env")
    seen: list[dict[str, str]] = []
    async with driver.open(UNUSED_URL, transport=httpx.MockTransport(recording_handler(seen))) as d:
        assert d.client.config.auth_type == "bearer"
        await d.call("get_resources")
    assert seen == [{"authorization": "Bearer t-env"}]


async def test_explicit_auth_type_wins_over_the_environment(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINOPS_AUTH_TYPE", "bearer")
    seen: list[dict[str, str]] = []
    handler = recording_handler(seen)
    async with driver.open(UNUSED_URL, api_key="k", auth_type="api_key", transport=httpx.MockTransport(handler)) as d:
        await d.call("get_resources")
    assert seen == [{"x-api-key": "k"}]


# --------------------------------------------------------------------------- 3. the environment


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("FINOPS_API_URL", "ftp://finops.example.com", id="url-scheme"),
        pytest.param("FINOPS_API_URL", "finops.example.com:5002", id="url-no-scheme"),
        pytest.param("FINOPS_API_URL", "http://[::1", id="url-unparsable"),
        pytest.param("FINOPS_DRY_RUN", "maybe", id="dry-run"),
        pytest.param("FINOPS_API_KEY", CANARY + "\n", id="key-newline"),
        pytest.param("FINOPS_API_KEY", " " + CANARY, id="key-space"),
        pytest.param("FINOPS_AUTH_TYPE", "bearr", id="auth-type"),
    ],
)
async def test_a_bad_environment_value_names_its_variable(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    if variable != "FINOPS_API_KEY":
        monkeypatch.setenv("FINOPS_API_KEY", "k")
    with pytest.raises(ConfigurationError) as info:
        driver.open()
    assert variable in str(info.value)
    assert_not_echoed(info.value, CANARY)


async def test_an_explicit_argument_is_not_blamed_on_the_environment(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINOPS_API_KEY", "fine")
    with pytest.raises(ConfigurationError) as info:
        driver.open("ftp://finops.example.com")
    assert "FINOPS_API_URL" not in str(info.value)


# --------------------------------------------------------------------------- 7. 401 and 403


@pytest.mark.parametrize(
    ("options", "scheme", "header"),
    [
        pytest.param({"api_key": CANARY}, "api_key", "X-API-Key", id="api_key"),
        pytest.param({"api_key": CANARY, "auth_type": "bearer"}, "bearer", "Authorization", id="bearer"),
        pytest.param({"api_key": f"alice:{CANARY}", "auth_type": "basic"}, "basic", "Authorization", id="basic"),
        pytest.param({"auth": ApiKeyAuth(CANARY, header="X-Tenant-Key")}, "api_key", "X-Tenant-Key", id="custom"),
    ],
)
async def test_a_401_says_which_scheme_and_header_were_sent(
    driver: Driver, options: dict[str, Any], scheme: str, header: str
) -> None:
    with ReferenceBackend(api_key="the-right-key", require_auth=True) as backend:
        async with driver.open(backend.url, **options) as d:
            with pytest.raises(AuthenticationError) as info:
                await d.call("get_resources")
    text = str(info.value)
    assert f"auth_type={scheme!r}" in text
    assert f"{header} header" in text
    assert "no credential" not in text
    assert_not_echoed(info.value, CANARY)


async def test_a_401_without_a_credential_says_how_to_give_one(driver: Driver) -> None:
    with ReferenceBackend(api_key="the-right-key", require_auth=True) as backend:
        async with driver.open(backend.url) as d:
            with pytest.raises(AuthenticationError) as info:
                await d.call("get_resources")
    text = str(info.value)
    assert "no credential" in text
    assert "api_key=" in text
    assert "FINOPS_API_KEY" in text


async def test_a_403_says_which_scheme_and_header_were_sent(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(
        {"success": False, "error": {"code": "forbidden", "message": "not allowed"}}, status=403
    )
    async with driver.open(base(httpserver), api_key=CANARY, auth_type="bearer") as d:
        with pytest.raises(PermissionDeniedError) as info:
            await d.call("get_resources")
    text = str(info.value)
    assert "auth_type='bearer'" in text
    assert "Authorization header" in text
    assert_not_echoed(info.value, CANARY)


async def test_a_403_without_a_credential_says_how_to_give_one(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({}, status=403)
    async with driver.open(base(httpserver)) as d:
        with pytest.raises(PermissionDeniedError) as info:
            await d.call("get_resources")
    assert "no credential" in str(info.value)
    assert "FINOPS_API_KEY" in str(info.value)


async def test_a_401_from_another_origin_says_the_credential_was_withheld(
    driver: Driver, httpserver: HTTPServer, other_origin: HTTPServer
) -> None:
    httpserver.expect_request("/api/resources").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/api/landing")}
    )
    other_origin.expect_request("/api/landing").respond_with_json({}, status=401)
    async with driver.open(base(httpserver), api_key=CANARY) as d:
        with pytest.raises(AuthenticationError) as info:
            await d.call("get_resources")
    assert "no credential was sent: a redirect led to another origin" in str(info.value)
    assert "auth_type='api_key'" in str(info.value)
    assert_not_echoed(info.value, CANARY)


async def test_other_statuses_say_nothing_about_credentials(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({}, status=404)
    async with driver.open(base(httpserver), api_key=CANARY) as d:
        with pytest.raises(APIError) as info:
            await d.call("get_resources")
    assert "auth_type" not in str(info.value)
    assert "credential" not in str(info.value)


# --------------------------------------------------------------------------- the README


@pytest.fixture
def readme() -> str:
    return (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


async def test_the_readme_quotes_these_errors_as_they_read(
    mode: str, monkeypatch: pytest.MonkeyPatch, readme: str
) -> None:
    """The usage section shows a bad credential, auth type and variable, a wrong key and no key
    as they read."""
    errors: list[Exception] = []
    bad: list[dict[str, Any]] = [{"api_key": "KEY "}, {"api_key": "k", "auth_type": "bearr"}]
    for options in bad:
        with pytest.raises(ConfigurationError) as built:
            Driver(mode).open(UNUSED_URL, **options)
        errors.append(built.value)
    with monkeypatch.context() as env:
        env.setenv("FINOPS_API_URL", "localhost:5002")
        with pytest.raises(ConfigurationError) as from_env:
            Driver(mode).open()
        errors.append(from_env.value)
    with ReferenceBackend(api_key="the-right-key", require_auth=True) as backend:
        given: list[dict[str, Any]] = [{"api_key": "wrong-key"}, {}]
        for options in given:
            async with Driver(mode, FakeTime()).open(backend.url, **options) as d:
                with pytest.raises(AuthenticationError) as answered:
                    await d.call("get_resources")
            errors.append(answered.value)
    for error in errors:
        line = re.sub(r"request_id=\w+", "request_id=...", f"{type(error).__name__}: {error}")
        assert line in readme
