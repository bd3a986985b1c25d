"""The SDK at work, end to end, against a local reference backend (``make demo``).

Pushes 10,000 resources in batches with a progress display, plus optimizations, anomalies
and forecasts; lists them; approves one in dry run, then for real; takes the backend down
to show the circuit breaker opening and calls failing fast, then brings it back to show
half-open and closed; prints a metrics table. Exits 0 when every step behaved as expected.
Every line, the SDK's log lines included, goes through one :class:`~demo._console.Console`,
so nothing breaks the progress line. Needs only the SDK's run-time dependencies.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from typing import Any

from finops_api_client import FinOpsClient
from finops_api_client.models import ApprovalStatus, RiskLevel

from reference_backend import FaultPlan, ReferenceBackend
from resilience import (
    APIError,
    BreakerTransition,
    CircuitBreakerConfig,
    CircuitOpenError,
    DryRun,
    RequestEnd,
    RequestStart,
    RetryEvent,
    RetryPolicy,
)

from ._console import Console, ConsoleHandler, outcomes

RESOURCES = 10_000
console = Console(sys.stdout)


def say(text: str = "") -> None:
    console.line(text)


def step(title: str) -> None:
    say()
    say(f"== {title}")


class DemoHook:
    """A metrics hook: prints breaker transitions as they happen."""

    def on_request_start(self, event: RequestStart) -> None:
        pass

    def on_request_end(self, event: RequestEnd) -> None:
        pass

    def on_retry(self, event: RetryEvent) -> None:
        pass

    def on_breaker_transition(self, event: object) -> None:
        if isinstance(event, BreakerTransition):
            say(f"   breaker: {event.old_state.value} -> {event.new_state.value} ({event.reason})")


def resources(n: int) -> list[dict[str, Any]]:
    kinds = ("ec2", "rds", "s3", "lambda", "ebs")
    regions = ("us-east-1", "eu-west-1", "ap-south-1")
    return [
        {
            "resourceId": f"res-{i:05d}",
            "resourceType": kinds[i % len(kinds)],
            "region": regions[i % len(regions)],
            "accountId": f"acct-{i % 7}",
            "currentCost": round(1.5 + (i % 97) * 0.37, 2),
            "utilizationMetrics": {"cpu": (i * 7) % 100 / 100.0},
            "tags": {"team": f"team-{i % 5}", "env": "prod" if i % 3 else "dev"},
            "timestamp": "2026-11-29T10:00:00Z",
        }
        for i in range(n)
    ]


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"demo check failed: {what}")


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:7.2f}"


def main() -> int:
    handler = ConsoleHandler(console)
    handler.setFormatter(logging.Formatter("   log %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("DEMO_LOG_LEVEL", "WARNING"), handlers=[handler])
    started = time.perf_counter()
    api_key = os.environ.get("DEMO_API_KEY") or "demo-" + secrets.token_hex(8)
    with ReferenceBackend(api_key=api_key, require_auth=True) as backend:
        say(f"reference backend at {backend.url} (in memory, API key required)")
        config = CircuitBreakerConfig(failure_threshold=3, recovery_timeout=1.5, success_threshold=2)
        policy = RetryPolicy(max_retries=2, backoff_base=0.05, backoff_max=0.2, max_retry_after=0.5)
        client = FinOpsClient(
            backend.url,
            api_key=api_key,
            circuit_breaker_config=config,
            retry_policy=policy,
            metrics_hooks=[DemoHook()],
            timeout=5.0,
        )
        with client:
            step("health check")
            report = client.health_check()
            say(
                f"   {report.endpoint}: healthy={bool(report)} status={report.status} "
                f"latency={ms(report.latency)} ms breaker={report.circuit_breaker}"
            )
            check(bool(report), "backend healthy")

            step(f"push {RESOURCES:,} resources in batches (maxItems from the contract)")
            say("   the backend drops connections after storing, or answers 503, for about 1 POST in 4:")
            say("   retries reuse each chunk's Idempotency-Key, so nothing is stored twice")
            backend.set_fault_plan(
                FaultPlan(seed=7, rate=0.25, kinds=["close_after_store", "503_burst"], methods=["POST"], burst_length=1)
            )
            t0 = time.perf_counter()
            items = resources(RESOURCES)
            result = client.post_resources(items, progress=console.progress_printer("first pass"))
            say(f"   first pass: {outcomes(result)}")
            backend.set_fault_plan(None)
            if not result.ok:
                say("   resuming: only the chunks not delivered or of unknown outcome, unknown ones with their keys")
                result = client.post_resources(
                    items, resume=result, wait_for_recovery=5.0, progress=console.progress_printer("resume")
                )
                say(f"   resumed: {outcomes(result)}")
            took = time.perf_counter() - t0
            stats = backend.stats()
            faults = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.faults_injected.items())) or "none"
            say(f"   all {RESOURCES:,} in {took:.2f}s, waits for the circuit to recover included")
            say(
                f"   faults injected: {faults}; duplicate deliveries answered from the idempotency cache: "
                f"{stats.duplicate_deliveries_deduped}; items stored twice: {stats.item_writes - stats.items_stored}"
            )
            check(result.ok and stats.items_stored == RESOURCES, "all resources stored")
            check(stats.item_writes == stats.items_stored, "nothing stored twice")

            step("bad input is refused before anything is sent")
            bad = resources(3)
            bad[2]["currentCost"] = float("nan")
            try:
                client.post_resources(bad)
            except APIError as exc:
                say(f"   {type(exc).__name__}: {exc}")
            check(backend.stats().items_stored == RESOURCES, "nothing of the bad call stored")

            step("optimizations, anomalies, forecasts")
            opts = [
                {
                    "optimizationId": f"opt-{i}",
                    "resourceId": f"res-{i:05d}",
                    "optimizationType": ("RIGHTSIZE", "TERMINATE", "SCHEDULE")[i % 3],
                    "estimatedSavings": 10.0 * i,
                    "riskLevel": ("LOW", "MEDIUM", "HIGH")[i % 3],
                    "confidenceScore": 0.9,
                    "status": "PENDING",
                }
                for i in range(60)
            ]
            anomalies = [
                {
                    "anomalyId": f"anom-{i}",
                    "anomalyType": "spike",
                    "severity": ("LOW", "HIGH", "CRITICAL")[i % 3],
                    "actualCost": 100.0 + i,
                    "expectedCost": 80.0,
                }
                for i in range(25)
            ]
            forecasts = [
                {
                    "budgetId": f"bud-{i}",
                    "budgetType": "monthly",
                    "budgetAmount": 1000.0,
                    "forecastAmount": 900.0 + 20 * i,
                    "periodStart": "2026-12-01",
                    "periodEnd": "2026-12-31",
                }
                for i in range(10)
            ]
            for name, post, items in (
                ("optimizations", client.post_optimizations, opts),
                ("anomalies", client.post_anomalies, anomalies),
                ("forecasts", client.post_budget_forecasts, forecasts),
            ):
                batch = post(items)
                say(f"   {name}: {outcomes(batch)}")
                check(batch.ok, f"{name} accepted")

            step("list them (iterators follow nextCursor)")
            n_res = sum(1 for _ in client.iter_resources(limit=1000))
            n_ec2 = sum(1 for _ in client.iter_resources(resource_type="ec2", limit=500))
            page = client.get_optimizations(risk_level=RiskLevel.HIGH, limit=5)
            say(
                f"   resources: {n_res:,} (ec2: {n_ec2:,}); HIGH-risk optimizations, first page: "
                f"{', '.join(o.optimization_id for o in page.data)}"
            )
            check(n_res == RESOURCES, "listing sees every resource")

            step("approve an optimization: dry run first, then for real")
            with FinOpsClient(backend.url, api_key=api_key, dry_run=True) as dry:
                preview = dry.approve_optimization("opt-1", approved=True, comment="rightsizing ok")
            check(isinstance(preview, DryRun), "dry run returns what would be sent")
            if isinstance(preview, DryRun):
                say(f"   dry run: would {preview.method} {preview.route} with {preview.body_preview}; nothing sent")
            approval = client.approve_optimization("opt-1", approved=True, comment="rightsizing ok")
            if isinstance(approval, DryRun):
                raise SystemExit("a client without dry_run returned a dry-run report")
            check(approval.status == ApprovalStatus.APPROVED, "approved")
            say(f"   approved: {approval.optimization_id} {approval.status.value} at {approval.decided_at}")

            step("outage: the backend answers 503 (Retry-After: 1, above our 0.5 s cap)")
            backend.set_outage("503")
            for i in range(4):
                t0 = time.perf_counter()
                try:
                    client.get_resources(limit=1)
                except CircuitOpenError as exc:
                    say(
                        f"   call {i + 1}: {type(exc).__name__} after {1e6 * (time.perf_counter() - t0):.0f} µs "
                        f"(no socket opened; next probe in {exc.retry_in:.2f}s)"
                    )
                except APIError as exc:
                    say(f"   call {i + 1}: {type(exc).__name__} after {ms(time.perf_counter() - t0)} ms: {exc}")
            breaker = client.circuit_breaker
            check(breaker is not None and breaker.state.value == "open", "breaker opened")

            step("recovery: backend back, breaker probes (half-open) and closes")
            backend.set_outage(None)
            time.sleep(config.recovery_timeout + 0.05)  # the demo waits for real; tests use a fake clock
            for i in range(config.success_threshold):  # real calls probe: a health check leaves the breaker be
                t0 = time.perf_counter()
                client.get_resources(limit=1)
                state = breaker.state.value if breaker is not None else "disabled"
                say(f"   probe {i + 1}: answered in {ms(time.perf_counter() - t0)} ms breaker={state}")
            check(breaker is not None and breaker.state.value == "closed", "breaker closed")

            step("metrics per operation (route template)")
            metrics = client.get_performance_metrics()
            header = f"   {'operation':<50}{'requests':>9}{'success':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            say(header + f"{'retries':>8}{'rejected':>9}")
            rows = dict(metrics["endpoint_metrics"])
            rows["(all)"] = metrics["global_metrics"]
            for key, m in rows.items():
                say(
                    f"   {key:<50}{m['request_count']:>9}{100 * m['success_rate']:>8.1f}%"
                    f"{ms(m['p50']):>9}{ms(m['p95']):>9}{ms(m['p99']):>9}{m['retries']:>8}{m['rejections']:>9}"
                )
            if breaker is not None:
                cb = breaker.breaker.snapshot()  # the per-origin breaker, typed
                say(
                    f"   circuit breaker: {cb.state.value}, {cb.transitions} transitions, "
                    f"{cb.rejected_count} calls refused while open"
                )
        stats = backend.stats()
        say()
        say(
            f"backend: {stats.items_stored:,} items stored, {stats.duplicate_deliveries_deduped} duplicate "
            f"deliveries deduped; demo finished in {time.perf_counter() - started:.1f}s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
