"""The clients under test and their peers, built the same way for every row and for profiling.

Every factory returns a ready client; every ``*_call`` helper performs one operation the way
a user would and returns its parsed result, so each variant does comparable work (send, read,
parse JSON).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx
import pybreaker
import requests
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from finops_api_client.api.health import get_health as gen_get_health
from finops_api_client.client import Client
from finops_api_client.models.health_status import HealthStatus
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from resilience import CircuitBreakerConfig

__all__ = [
    "API_KEY",
    "CountingTransport",
    "OldDesign",
    "configure_sdk_logging",
    "make_finops",
    "make_finops_async",
    "make_item",
]

API_KEY = "bench-api-key-0123456789abcdef"
HEALTH = "/api/health"
RESOURCES = "/api/resources"


def configure_sdk_logging() -> None:
    """The SDK's loggers at INFO, to a handler that discards (formatting included): what a
    service with INFO logging pays. httpx's own loggers stay at the default (WARNING) for
    every variant alike."""
    sdk = logging.getLogger("resilience")
    sdk.setLevel(logging.INFO)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    sdk.addHandler(handler)
    sdk.propagate = False


def make_finops(url: str, *, transport: httpx.BaseTransport | None = None) -> FinOpsClient:
    """Every layer on: API key auth, breaker, retries armed (3), metrics; logging per
    :func:`configure_sdk_logging`."""
    return FinOpsClient(
        url,
        api_key=API_KEY,
        max_retries=3,
        enable_circuit_breaker=True,
        enable_performance_monitoring=True,
        circuit_breaker_config=CircuitBreakerConfig(),
        transport=transport,
    )


def make_finops_async(url: str) -> AsyncFinOpsClient:
    return AsyncFinOpsClient(
        url,
        api_key=API_KEY,
        max_retries=3,
        enable_circuit_breaker=True,
        enable_performance_monitoring=True,
        circuit_breaker_config=CircuitBreakerConfig(),
    )


def finops_health(client: FinOpsClient) -> HealthStatus:
    return client.get_health()


def make_bare(url: str) -> Client:
    return Client(base_url=url)


def bare_health(client: Client) -> Any:
    return gen_get_health.sync_detailed(client=client).parsed


def httpx_health(client: httpx.Client) -> Any:
    return client.get(HEALTH).json()


class OldDesign:
    """The design the SDK replaces: requests.Session + urllib3 Retry(total=3, backoff) +
    pybreaker.CircuitBreaker().call around each request."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504))
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["X-API-Key"] = API_KEY
        self.breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)

    def get_health(self) -> Any:
        r = self.breaker.call(self.session.get, self.url + HEALTH, timeout=30)
        r.raise_for_status()
        return r.json()

    def post_resource(self, item: Mapping[str, Any]) -> Any:
        r = self.breaker.call(self.session.post, self.url + RESOURCES, json=item, timeout=30)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        self.session.close()


class CountingTransport(httpx.BaseTransport):
    """Inner transport wrapper: counts the requests that reached the network layer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def make_item(i: int) -> dict[str, Any]:
    """One ResourceInventory as a plain dict (~270 bytes of JSON)."""
    return {
        "resourceId": f"i-{i:012x}",
        "resourceType": "ec2-instance",
        "region": ("us-east-1", "eu-west-1", "ap-south-1")[i % 3],
        "accountId": "123456789012",
        "currentCost": round(12.5 + (i % 100) * 0.37, 2),
        "currency": "USD",
        "utilizationMetrics": {"cpu": (i % 97) / 97.0, "memory": (i % 89) / 89.0},
        "tags": {"env": "prod", "team": f"team-{i % 17}"},
        "timestamp": "2026-11-29T10:00:00Z",
    }
