"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.support import MODES, Driver, FakeTime, loopback_server


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """``sync`` or ``async``: a test taking it runs once against each client (see ``support.Driver``)."""
    return str(request.param)


@pytest.fixture
async def driver(mode: str, ft: FakeTime) -> AsyncIterator[Driver]:
    """A ``Driver`` of the ``mode`` on ``ft``; the client it opens is closed after the test."""
    d = Driver(mode, ft)
    try:
        yield d
    finally:
        await d.close()


#: Where no test finds a profile file: the developer's own are never read.
NO_PROFILE_FILES = "/nonexistent/finops-tests"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's FINOPS_* settings, nor their profile files."""
    for name in (
        "FINOPS_API_URL",
        "FINOPS_API_KEY",
        "FINOPS_AUTH_TYPE",
        "FINOPS_DRY_RUN",
        "FINOPS_TIMEOUT",
        "FINOPS_MAX_RETRIES",
        "FINOPS_PROFILE",
        "FINOPS_SHARED_STATE",
        "FINOPS_OUTBOX",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINOPS_CONFIG_FILE", f"{NO_PROFILE_FILES}/config")
    monkeypatch.setenv("FINOPS_SHARED_CREDENTIALS_FILE", f"{NO_PROFILE_FILES}/credentials")


@pytest.fixture
def other_origin() -> Iterator[HTTPServer]:
    """A second loopback server: another port is another origin (redirect and credential tests)."""
    with loopback_server() as server:
        yield server


@pytest.fixture(params=["direct", "httpx"])
def send_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a client sends a hop: ``direct`` (the fast path of :mod:`resilience._direct`,
    the default) and ``httpx`` (always through ``httpx.Client.send``): a test taking it proves
    the two take the same decisions."""
    from resilience import AsyncAPIClient, SyncAPIClient

    on = request.param == "direct"
    monkeypatch.setattr(SyncAPIClient, "_DIRECT", on)
    monkeypatch.setattr(AsyncAPIClient, "_DIRECT", on)
    return str(request.param)
