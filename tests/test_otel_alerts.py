"""The alert rules in monitoring/prometheus/ are written on what PrometheusHook really exports:
every series name and label they use, and every outcome value they match, appears in a real
client's exposition, the outbox's gauges from a real SQLite outbox holding a pending chunk and a
dead letter (promtool unit-tests the rules themselves: ``make alerts``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import prometheus_client as prom
import pytest
import yaml
from finops_api_client import FinOpsClient
from prometheus_client.parser import text_string_to_metric_families

from resilience import CircuitBreakerConfig, CircuitOpenError, PrometheusHook, RetryBudget
from tests.support import FakeTime, resources

RULES = Path(__file__).resolve().parent.parent / "monitoring" / "prometheus" / "finops-sdk.rules.yml"
HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


def with_an_outbox(hook: PrometheusHook, folder: Path) -> None:
    """A client with a real SQLite outbox: one chunk refused for good on replay (a dead letter),
    one still pending after a failed push and 30 s of waiting."""
    posts = iter([503, 503, 422])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(posts, 503), json={"success": False})

    ft = FakeTime()
    kw: dict[str, Any] = {"max_retries": 0, "enable_circuit_breaker": False, "metrics_hooks": [hook]}
    with FinOpsClient(
        "http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),
        outbox=folder / "outbox.db",
        clock=ft.clock,
        wall_clock=ft.wall,
        **kw,
    ) as client:
        client.post_resources(resources(2), chunk_size=1)  # both chunks pending (503, 503)
        ft.advance(30)
        assert client.outbox is not None
        client.outbox.replay()  # the first: 422, a dead letter; the second: 503, still pending


def exported(folder: Path) -> tuple[dict[str, set[str]], set[str], dict[str, float]]:
    """Series names with their label names, the outcomes seen, and the gauges' values (the
    breaker's by breaker, the outbox's by name), after a client had a success, budget refusals
    and an open circuit, and another one's outbox a pending chunk and a dead letter."""
    answers = iter([200, 503, 503, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, 503)
        return httpx.Response(status, json=HEALTH if status == 200 else {"success": False})

    registry = prom.CollectorRegistry()
    hook = PrometheusHook(registry)
    with_an_outbox(hook, folder)
    client = FinOpsClient(
        "http://127.0.0.1:1",
        api_key="k",
        max_retries=3,
        sleep=lambda s: None,
        transport=httpx.MockTransport(handler),
        metrics_hooks=[hook],
        retry_budget=RetryBudget(percent=0.0, min_per_second=0.1, window=10),  # one retry in all
        circuit_breaker_config=CircuitBreakerConfig(failure_threshold=3, recovery_timeout=60),
    )
    with client:
        client.get_health()
        with pytest.raises(Exception, match="503"):
            client.get_health()  # 503, one retry, 503: the budget refuses the next
        with pytest.raises(Exception, match="503"):
            client.get_health()  # the third failure opens the breaker
        with pytest.raises(CircuitOpenError):
            client.get_health()
    labels: dict[str, set[str]] = {}
    outcomes: set[str] = set()
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(prom.generate_latest(registry).decode()):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
            if "outcome" in sample.labels:
                outcomes.add(sample.labels["outcome"])
            if sample.name == "finops_sdk_breaker_open":
                gauges[sample.labels["breaker"]] = sample.value
            if sample.name.startswith("finops_sdk_outbox_"):
                gauges[sample.name] = sample.value
    return labels, outcomes, gauges


def rule_expressions() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def test_the_rules_use_only_series_labels_and_outcomes_the_hook_exports(tmp_path: Path) -> None:
    labels, outcomes, gauges = exported(tmp_path)
    assert gauges.pop("http://127.0.0.1:1") == 1.0  # the breaker
    assert gauges["finops_sdk_outbox_dead_letters"] == 1
    assert gauges["finops_sdk_outbox_oldest_age_seconds"] == 30
    assert gauges["finops_sdk_outbox_pending_chunks"] == 1
    assert {"success", "budget_exhausted", "circuit_open"} <= outcomes
    exprs = rule_expressions()
    assert len(exprs) == 5
    used = {name for expr in exprs for name in re.findall(r"\bfinops_sdk_[a-z_]+", expr)}
    assert {"finops_sdk_outbox_oldest_age_seconds", "finops_sdk_outbox_dead_letters"} <= used
    for expr in exprs:
        for name in re.findall(r"\bfinops_sdk_[a-z_]+", expr):
            assert name in labels, f"{name} is not exported: {sorted(labels)}"
        for used in re.findall(r"by \(([a-z_, ]+)\)|on \(([a-z_, ]+)\)", expr):
            for label in ",".join(used).split(","):
                label = label.strip()
                if label:
                    assert any(label in names for names in labels.values()), label
        for value in re.findall(r'outcome(?:=|!~|=~)"([^"]+)"', expr):
            for outcome in value.split("|"):
                assert outcome in outcomes | {"4xx"}, outcome  # 4xx: an outcome kind the hook counts


def test_the_breaker_gauge_goes_back_to_zero_when_the_breaker_closes() -> None:
    registry = prom.CollectorRegistry()
    hook = PrometheusHook(registry, namespace="t")
    client = FinOpsClient(
        "http://127.0.0.1:1",
        transport=httpx.MockTransport(lambda r: httpx.Response(503)),
        max_retries=0,
        metrics_hooks=[hook],
        circuit_breaker_config=CircuitBreakerConfig(failure_threshold=1, recovery_timeout=60),
    )
    with client:
        with pytest.raises(Exception, match="503"):
            client.get_health()
        assert registry.get_sample_value("t_breaker_open", {"breaker": "http://127.0.0.1:1"}) == 1
        client.circuit_breaker.reset()  # type: ignore[union-attr]
        assert registry.get_sample_value("t_breaker_open", {"breaker": "http://127.0.0.1:1"}) == 0
