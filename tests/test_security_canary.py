"""A canary secret travels as each kind of credential through every path the SDK has (success,
retried 500s, 401, connection refused, a POST whose body holds secrets, dry run) with DEBUG on
for every logger; it must reach the server and nothing else: no log line, exception, repr,
metrics dump or result object may show it, nor an error's pickle or its traceback rendered with
the locals of every frame of its chain."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import re
import socket
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resilience import (
    APIConnectionError,
    ApiKeyAuth,
    AuthenticationError,
    BasicAuth,
    BearerAuth,
    InternalServerError,
    TokenProviderAuth,
)

# Every test here runs over both ways a hop is sent (conftest.send_path).
pytestmark = pytest.mark.usefixtures("send_path")

CANARY = f"CANARY-s3cr3t-{uuid.uuid4().hex}"
BASIC_USER = "canary-user"
BASIC_TOKEN = base64.b64encode(f"{BASIC_USER}:{CANARY}".encode()).decode()
#: Every form in which the secret could leak: itself, and the basic-auth header token.
FORBIDDEN = (CANARY, BASIC_TOKEN)
LOGGERS = ("", "resilience", "httpx", "httpcore", "hpack", "urllib3", "aiohttp", "werkzeug", "asyncio")
TS = "2024-01-01T00:00:00Z"

SCHEMES: dict[str, dict[str, Any]] = {
    "api_key": {"api_key": CANARY},
    "bearer": {"api_key": CANARY, "auth_type": "bearer"},
    "basic": {"api_key": f"{BASIC_USER}:{CANARY}", "auth_type": "basic"},
    "custom_header": {"auth": ApiKeyAuth(CANARY, header="X-Custom-Key")},
    "user_header": {"headers": {"X-Auth-Token": CANARY}},
}


def no_sleep(_: float) -> None:
    return None


async def no_asleep(_: float) -> None:
    return None


def credential_of(request: Request) -> str | None:
    """The secret the server received, whatever scheme carried it."""
    for name in ("X-API-Key", "X-Custom-Key", "X-Auth-Token"):
        if name in request.headers:
            return request.headers[name]
    value = request.headers.get("Authorization", "")
    if value.startswith("Bearer "):
        return value[len("Bearer ") :]
    if value.startswith("Basic "):
        return base64.b64decode(value[len("Basic ") :]).decode().partition(":")[2]
    return None


class Backend:
    """One handler for every path; ``mode`` decides the answer."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.credentials: list[str | None] = []
        self.paths: list[str] = []
        self.bodies: list[bytes] = []
        self.count: dict[str, int] = {}

    def __call__(self, request: Request) -> Response:
        self.credentials.append(credential_of(request))
        self.paths.append(request.path)
        self.bodies.append(request.get_data())
        self.count[self.mode] = self.count.get(self.mode, 0) + 1
        if self.mode == "500":
            return error(500, "internal", "boom")
        if self.mode == "401":
            return error(401, "unauthorized", "bad credentials")
        if request.method == "POST":
            accepted = len(json.loads(request.get_data()))
            return json_response(200, {"success": True, "accepted": accepted, "rejected": [], "timestamp": TS})
        return json_response(200, {"success": True, "data": [], "timestamp": TS})


def json_response(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}})


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def secret_items() -> list[dict[str, Any]]:
    return [
        {
            "resourceId": "i-canary",
            "resourceType": "vm",
            "region": "eu-west-1",
            "tags": {"apiKey": CANARY, "password": CANARY, "team": "finops"},
        }
    ]


@pytest.fixture
def backend(httpserver: HTTPServer) -> Iterator[Backend]:
    handler = Backend()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    yield handler
    httpserver.clear()


@pytest.fixture
def debug_everywhere(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__])


def rendered_locals(err: BaseException) -> Iterator[tuple[str, str]]:
    """Every local of every frame of ``err``'s chain, rendered as ``pytest --showlocals`` or
    Sentry would (this module's own frames left out: the test holds the canary itself)."""
    todo: list[traceback.TracebackException | None] = [
        traceback.TracebackException(type(err), err, err.__traceback__, capture_locals=True)
    ]
    while todo:
        te = todo.pop()
        if te is None:
            continue
        for frame in te.stack:
            if frame.filename != __file__:
                for name, value in (frame.locals or {}).items():
                    yield f"local {name} of {frame.name} in the traceback of {te.exc_type!r}", value
        todo += [te.__cause__, te.__context__]


def assert_no_canary_in_frames(err: BaseException) -> None:
    for where, text in rendered_locals(err):
        assert_no_canary(where, text)


def assert_no_canary(where: str, text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"the canary leaked into {where}"


def check_everything(caplog: pytest.LogCaptureFixture, errors: list[BaseException], objects: dict[str, object]) -> None:
    assert caplog.records, "DEBUG logging produced nothing: the test is not looking"
    assert_no_canary("the logs", caplog.text)
    for record in caplog.records:
        assert_no_canary(f"log record {record.name}", record.getMessage())
        assert_no_canary(f"log record {record.name} args", repr(record.args))
    for err in errors:
        for e in chain(err):
            assert_no_canary(f"str({type(e).__name__})", str(e))
            assert_no_canary(f"repr({type(e).__name__})", repr(e))
            assert_no_canary(f"{type(e).__name__}.args", repr(e.args))
        assert_no_canary(f"pickle of {type(err).__name__}", pickle.dumps(err).decode("latin-1"))
        if getattr(err, "operation", None) == "post_resources":
            continue  # its frames hold the chunk's body, which carries the canary as data on purpose
        assert_no_canary_in_frames(err)
    for where, obj in objects.items():
        assert_no_canary(where, repr(obj))
        assert_no_canary(where, str(obj))


def check_server_saw_canary(backend: Backend) -> None:
    assert CANARY in backend.credentials, "the server never received the credential"
    # The health GET needs no credential and carries none the SDK adds (tests/test_health_and_loops.py).
    assert all(c == CANARY for c, path in zip(backend.credentials, backend.paths, strict=True) if path != "/api/health")
    assert any(CANARY.encode() in body for body in backend.bodies), "the secret body never reached the server"
    assert backend.count.get("500", 0) == 4  # first attempt + 3 retries
    assert backend.count.get("401", 0) == 1


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_canary_never_leaks_sync(
    scheme: str, httpserver: HTTPServer, backend: Backend, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    kwargs = SCHEMES[scheme]
    url = httpserver.url_for("/").rstrip("/")
    errors: list[BaseException] = []
    objects: dict[str, object] = {}
    with FinOpsClient(url, sleep=no_sleep, max_retries=3, **kwargs) as client:
        objects["ok page"] = client.get_resources()
        objects["health"] = client.health_check()

        backend.mode = "500"
        with pytest.raises(InternalServerError) as e500:
            client.get_resources()
        errors.append(e500.value)

        backend.mode = "401"
        with pytest.raises(AuthenticationError) as e401:
            client.get_resources()
        errors.append(e401.value)

        backend.mode = "ok"
        result = client.post_resources(secret_items())
        assert result.ok
        objects["batch result"] = result

        backend.mode = "500"  # POST with an idempotency key: retried, then reported per chunk
        failed = client.post_resources(secret_items())
        assert not failed.ok
        objects["failed batch result"] = failed
        errors.extend(f.error for f in (*failed.not_delivered, *failed.outcome_unknown))
        backend.count["500"] -= 4
        backend.mode = "ok"

        objects["client"] = client
        objects["auth"] = client.auth
        objects["metrics"] = client.get_performance_metrics()
        objects["metrics snapshot"] = client.get_metrics_snapshot()

    with FinOpsClient(f"http://127.0.0.1:{unused_port()}", sleep=no_sleep, **kwargs) as dead:
        with pytest.raises(APIConnectionError) as refused:
            dead.get_resources()
        errors.append(refused.value)
        assert isinstance(refused.value.__cause__, Exception)
        objects["dead health"] = dead.health_check()
        dead_batch = dead.post_resources(secret_items())
        assert not dead_batch.ok
        errors.extend(f.error for f in (*dead_batch.not_delivered, *dead_batch.outcome_unknown))
        objects["dead batch"] = dead_batch
        objects["dead client"] = dead

    with FinOpsClient(url, sleep=no_sleep, dry_run=True, **kwargs) as dry:
        report = dry.post_resources(secret_items())
        assert report.dry_run is not None
        assert "[redacted]" in report.dry_run.body_preview
        objects["dry run batch"] = report
        objects["dry run"] = report.dry_run
        approval = dry.approve_optimization("opt-1", approved=True, comment="fine")
        objects["dry run approval"] = approval
        objects["dry client"] = dry

    check_server_saw_canary(backend)
    check_everything(debug_everywhere, errors, objects)


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_canary_never_leaks_async(
    scheme: str, httpserver: HTTPServer, backend: Backend, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    kwargs = SCHEMES[scheme]
    url = httpserver.url_for("/").rstrip("/")
    errors: list[BaseException] = []
    objects: dict[str, object] = {}
    async with AsyncFinOpsClient(url, asleep=no_asleep, max_retries=3, **kwargs) as client:
        objects["ok page"] = await client.get_resources()
        objects["health"] = await client.health_check()

        backend.mode = "500"
        with pytest.raises(InternalServerError) as e500:
            await client.get_resources()
        errors.append(e500.value)

        backend.mode = "401"
        with pytest.raises(AuthenticationError) as e401:
            await client.get_resources()
        errors.append(e401.value)

        backend.mode = "ok"
        result = await client.post_resources(secret_items())
        assert result.ok
        objects["batch result"] = result

        backend.mode = "500"
        failed = await client.post_resources(secret_items())
        assert not failed.ok
        objects["failed batch result"] = failed
        errors.extend(f.error for f in (*failed.not_delivered, *failed.outcome_unknown))
        backend.count["500"] -= 4
        backend.mode = "ok"

        objects["client"] = client
        objects["auth"] = client.auth
        objects["metrics"] = client.get_performance_metrics()
        objects["metrics snapshot"] = client.get_metrics_snapshot()

    async with AsyncFinOpsClient(f"http://127.0.0.1:{unused_port()}", asleep=no_asleep, **kwargs) as dead:
        with pytest.raises(APIConnectionError) as refused:
            await dead.get_resources()
        errors.append(refused.value)
        objects["dead health"] = await dead.health_check()
        dead_batch = await dead.post_resources(secret_items())
        assert not dead_batch.ok
        errors.extend(f.error for f in (*dead_batch.not_delivered, *dead_batch.outcome_unknown))
        objects["dead batch"] = dead_batch

    async with AsyncFinOpsClient(url, asleep=no_asleep, dry_run=True, **kwargs) as dry:
        report = await dry.post_resources(secret_items())
        assert report.dry_run is not None
        objects["dry run batch"] = report
        objects["dry run approval"] = await dry.approve_optimization("opt-1", approved=False)
        objects["dry client"] = dry

    check_server_saw_canary(backend)
    check_everything(debug_everywhere, errors, objects)


def test_auth_object_reprs_hide_the_canary() -> None:
    auths = [
        ApiKeyAuth(CANARY),
        ApiKeyAuth(CANARY, header="X-Custom-Key"),
        BearerAuth(CANARY),
        BasicAuth(BASIC_USER, CANARY),
        TokenProviderAuth(lambda: CANARY),
    ]
    for auth in auths:
        assert_no_canary(f"repr({type(auth).__name__})", repr(auth))
        assert_no_canary(f"str({type(auth).__name__})", str(auth))
        assert "***" in repr(auth) or "provider=" in repr(auth)
    assert BASIC_USER in repr(auths[3])  # the username is not a secret; showing it helps debugging


def test_canary_detector_is_live(debug_everywhere: pytest.LogCaptureFixture) -> None:
    """The checks above would notice a leak: a log line carrying the secret is caught (on a
    logger of the caller's: the SDK's own scrub the live credential), so is an error whose
    cause's frames hold it."""
    logging.getLogger("tests.canary").debug("oops %s", CANARY)
    with pytest.raises(AssertionError, match="leaked"):
        check_everything(debug_everywhere, [], {})
    with pytest.raises(AssertionError, match="leaked"):
        check_everything(debug_everywhere, [], {"b64": f"Authorization: Basic {BASIC_TOKEN}"})

    library: dict[str, Any] = {}  # a frame of another module's, as an HTTP library's would be
    exec(compile("def lower(headers):\n    raise OSError('reset')\n", "<library>", "exec"), library)
    try:
        try:
            library["lower"]({"x-api-key": CANARY})
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as err:
        with pytest.raises(AssertionError, match="leaked"):
            assert_no_canary_in_frames(err)
