"""Shared test helpers: fake time, contract-valid items, small utilities."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer

API_KEY = "sk-test-5f1c9e2a7b"
TOKEN = "tok-test-3d8a6b1f0c"
BASIC = ("alice", "pw-s3cr3t-9x")
NOW = "2025-01-15T08:00:00+00:00"


class FakeTime:
    """A fake monotonic clock advanced only by the fake sleeps (``asleep`` still yields once)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def resource(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resourceId": f"r-{n:04d}",
        "resourceType": ("ec2", "rds", "s3")[n % 3],
        "region": ("us-east-1", "eu-west-1")[n % 2],
        "accountId": f"acct-{n % 4}",
        "currentCost": round(1.5 + n * 0.25, 2),
        "currency": "USD",
        "utilizationMetrics": {"cpu": 0.5},
        "tags": {"env": "test"},
        "timestamp": NOW,
    }
    item.update(overrides)
    return item


def optimization(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "optimizationId": f"opt-{n}",
        "resourceId": f"r-{n:04d}",
        "optimizationType": ("RIGHTSIZE", "TERMINATE", "SCHEDULE")[n % 3],
        "estimatedSavings": 10.0 * n,
        "riskLevel": ("LOW", "MEDIUM", "HIGH")[n % 3],
        "confidenceScore": 0.9,
        "status": "PENDING",
    }
    item.update(overrides)
    return item


def anomaly(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "anomalyId": f"anom-{n}",
        "anomalyType": "spike",
        "severity": ("LOW", "HIGH", "CRITICAL")[n % 3],
        "actualCost": 100.0 + n,
        "expectedCost": 80.0,
    }
    item.update(overrides)
    return item


def forecast(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "budgetId": f"bud-{n}",
        "budgetType": "monthly",
        "budgetAmount": 1000.0,
        "forecastAmount": 900.0 + n,
        "periodStart": "2026-12-01",
        "periodEnd": "2026-12-31",
    }
    item.update(overrides)
    return item


def layers(client: Any) -> list[Any]:
    """The transport stack, outermost first, following ``.inner``."""
    out = []
    t = client._transport
    while t is not None:
        out.append(t)
        t = getattr(t, "inner", None)
    return out


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page(items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": True, "data": items or [], "nextCursor": None, "timestamp": "2025-01-15T08:00:00Z"}


def base(httpserver: HTTPServer) -> str:
    return f"http://{httpserver.host}:{httpserver.port}"
