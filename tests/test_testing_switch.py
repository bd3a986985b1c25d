"""The testing switch users flip in their own suites: no waits, capped attempts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from resilience import (
    CircuitBreakerConfig,
    ConfigurationError,
    InternalServerError,
    as_testing,
    is_testing,
    set_testing,
)

URL = "http://127.0.0.1:1"  # never reached: the inner transport answers


@pytest.fixture(autouse=True)
def _switch_off() -> Iterator[None]:
    yield
    set_testing(False)


def always_503(calls: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"success": False, "error": {"code": "down", "message": "down"}})

    return httpx.MockTransport(handler)


def forbid_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}s while testing")


def test_off_by_default_and_switchable() -> None:
    assert not is_testing()
    set_testing(True, attempts=2)
    assert is_testing()
    set_testing(False)
    assert not is_testing()


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_caps_attempts_and_never_sleeps(attempts: int) -> None:
    calls: list[httpx.Request] = []
    set_testing(True, attempts=attempts)
    with (
        FinOpsClient(
            "http://127.0.0.1:1", api_key="k", max_retries=5, transport=always_503(calls), sleep=forbid_sleep
        ) as c,
        pytest.raises(InternalServerError),
    ):
        c.get_health()
    assert len(calls) == attempts


def test_without_the_switch_the_policy_applies() -> None:
    calls: list[httpx.Request] = []
    slept: list[float] = []
    with (
        FinOpsClient(
            "http://127.0.0.1:1", api_key="k", max_retries=2, transport=always_503(calls), sleep=slept.append
        ) as c,
        pytest.raises(InternalServerError),
    ):
        c.get_health()
    assert len(calls) == 3
    assert len(slept) == 2


def test_context_manager_restores() -> None:
    set_testing(True, attempts=4)
    with as_testing(attempts=1):
        assert is_testing()
    assert is_testing()
    set_testing(False)
    with as_testing():
        assert is_testing()
    assert not is_testing()


@pytest.mark.parametrize("attempts", [0, -1, True, 1.5])
def test_bad_attempts(attempts: object) -> None:
    with pytest.raises(ConfigurationError):
        set_testing(True, attempts=attempts)  # type: ignore[arg-type]
    assert not is_testing()


def test_no_wait_for_circuit_recovery_while_testing() -> None:
    calls: list[httpx.Request] = []
    set_testing(True)
    config = CircuitBreakerConfig(failure_threshold=1, recovery_timeout=30.0)
    with FinOpsClient(
        "http://127.0.0.1:1",
        api_key="k",
        transport=always_503(calls),
        sleep=forbid_sleep,
        circuit_breaker_config=config,
    ) as c:
        items = [{"resourceId": f"r-{i}", "resourceType": "ec2", "region": "eu"} for i in range(20)]
        result = c.post_resources(items, chunk_size=5, wait_for_recovery=60.0)
    assert len(calls) == 1  # the first chunk opened the circuit; the rest were refused at once
    assert len(result.outcome_unknown) == 1  # a 503 to a POST: the backend may have stored it
    assert len(result.not_delivered) == 3


async def test_async_caps_attempts_and_never_sleeps() -> None:
    calls: list[httpx.Request] = []

    async def forbid_asleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s while testing")

    set_testing(True, attempts=2)
    async with AsyncFinOpsClient(
        URL, api_key="k", max_retries=5, transport=always_503(calls), asleep=forbid_asleep
    ) as c:
        with pytest.raises(InternalServerError):
            await c.get_health()
    assert len(calls) == 2
