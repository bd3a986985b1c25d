"""What a user finds: the package's top level, its version and User-Agent, quiet loggers, and
the contract it ships."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import subprocess
import sys

import finops_api_client
import httpx
import pytest

import resilience
from resilience import APIError, OpenAPIContract
from tests.support import Driver, page


def test_every_error_class_and_config_type_imports_from_the_package() -> None:
    errors = [
        name
        for name in resilience.__all__
        if inspect.isclass(getattr(resilience, name)) and issubclass(getattr(resilience, name), APIError)
    ]
    assert len(errors) >= 15
    config = ["ClientConfig", "RetryPolicy", "RetryBudget", "CircuitBreakerConfig", "BatchResult", "HealthReport"]
    for name in [*errors, *config, "FinOpsClient", "AsyncFinOpsClient"]:
        assert name in finops_api_client.__all__, name
        if name in resilience.__all__:
            assert getattr(finops_api_client, name) is getattr(resilience, name)


def test_the_low_level_generated_clients_stay_out_of_the_top_level() -> None:
    """They bypass every resilience layer: reachable in their submodules only."""
    for name in ("Client", "AuthenticatedClient"):
        assert name not in finops_api_client.__all__
        assert not hasattr(finops_api_client, name)
    from finops_api_client.client import AuthenticatedClient, Client

    assert Client is not None
    assert AuthenticatedClient is not None


def test_version_is_the_installed_distributions() -> None:
    assert finops_api_client.__version__ == importlib.metadata.version("finops-sdk")


async def test_user_agent_names_sdk_python_and_httpx(driver: Driver) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json=page())

    async with driver.open("https://api.example.com", transport=httpx.MockTransport(handler)) as d:
        await d.call("get_resources")
    version = finops_api_client.__version__
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert seen == [f"finops-sdk/{version} python/{py} httpx/{httpx.__version__}"]
    assert re.fullmatch(r"finops-sdk/\S+ python/\d+\.\d+ httpx/\d+\.\d+\.\d+", seen[0])


async def test_a_user_agent_given_in_headers_wins(driver: Driver) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json=page())

    async with driver.open(
        "https://api.example.com", transport=httpx.MockTransport(handler), headers={"User-Agent": "collector/2"}
    ) as d:
        await d.call("get_resources")
    assert seen == ["collector/2"]


def test_sdk_loggers_have_a_null_handler_so_nothing_prints_unconfigured() -> None:
    """Without the application's logging set up, even a WARNING (a breaker opening) prints
    nothing: Python's last-resort handler is never reached."""
    import logging

    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("resilience").handlers)
    code = (
        "from finops_api_client import FinOpsClient\n"
        "c = FinOpsClient('https://api.example.com')\n"
        "c.circuit_breaker.force_open()\n"
        "import logging; logging.getLogger('resilience.breaker').warning('a warning')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stderr == ""


def test_the_contract_ships_in_the_package_and_loads_without_a_path() -> None:
    contract = OpenAPIContract.from_package("finops_api_client")
    ids = {op.operation_id for op in contract.operations()}
    assert {"get_health", "post_resources", "approve_optimization"} <= ids
    request = httpx.Request("GET", "https://api.example.com/api/resources?limit=5", headers={"X-API-Key": "k"})
    assert contract.validate_request(request).operation_id == "get_resources"


def test_without_the_contract_extra_the_import_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openapi_core", None)
    with pytest.raises(ImportError, match=r"finops-sdk\[contract\]"):
        OpenAPIContract({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})


def test_from_package_refuses_a_package_without_a_contract() -> None:
    with pytest.raises(FileNotFoundError, match=r"ships no openapi\.yaml"):
        OpenAPIContract.from_package("resilience")


async def test_only_codings_decoded_within_the_cap_are_asked_for(driver: Driver) -> None:
    """httpx would offer br/zstd when their packages are installed and decode them one whole
    network read at a time, past the body cap: the client asks only for gzip and deflate."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json=page())

    async with driver.open("https://api.example.com", transport=httpx.MockTransport(handler)) as d:
        await d.call("get_resources")
    assert seen == ["gzip, deflate"]
