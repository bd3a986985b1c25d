"""Render OpenTelemetryHook's spans, as the SDK's in-memory exporter holds them, as trees (README: Observability).

``.venv/bin/python -m demo.otel_trees`` (needs the dev extra: opentelemetry-sdk). Two calls on
an in-process transport, so the output is the same on every run: a ``get_health`` answered
503 then 200, and a ``post_resources`` of 5 items in chunks of 2 whose second chunk is
answered 503 once. Each span: name, kind, attributes; ids and timings left out, and checked
instead: every span of a call is in one trace, each child under its parent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
from finops_api_client import FinOpsClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from resilience import OpenTelemetryHook

HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}
URL = "https://finops.example.com"


def _resources(n: int) -> list[dict[str, object]]:
    return [
        {
            "resourceId": f"r-{i:04d}",
            "resourceType": "ec2",
            "region": "eu-west-1",
            "accountId": "acct-1",
            "cost": 1.5,
            "timestamp": "2025-01-15T08:00:00Z",
        }
        for i in range(n)
    ]


def _spans(run: str) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    posts = 0
    health = iter([503, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "GET":
            status = next(health)
            return httpx.Response(status, json=HEALTH if status == 200 else {"success": False})
        posts += 1
        if posts == 2:  # the second chunk's first attempt
            return httpx.Response(503, json={"success": False})
        items = json.loads(request.content)
        ingested = {"success": True, "accepted": len(items), "rejected": [], "timestamp": "2025-01-15T08:00:00Z"}
        return httpx.Response(200, json=ingested)

    client = FinOpsClient(
        URL,
        api_key="demo-key",
        sleep=lambda seconds: None,
        transport=httpx.MockTransport(answer),
        metrics_hooks=[OpenTelemetryHook(tracer_provider=provider)],
    )
    with client:
        if run == "retried call":
            client.get_health()
        else:
            client.post_resources(_resources(5), chunk_size=2)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def render(spans: Sequence[ReadableSpan]) -> str:
    """The spans as a tree, children in the order they started; checks one trace and real parents."""
    assert len({s.context.trace_id for s in spans}) == 1, "one trace"
    ids = {s.context.span_id for s in spans}
    children: dict[int, list[ReadableSpan]] = {}
    roots = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        if span.parent is None:
            roots.append(span)
        else:
            assert span.parent.span_id in ids, f"{span.name}: its parent is missing"
            children.setdefault(span.parent.span_id, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, prefix: str, last: bool, top: bool) -> None:
        attrs = " ".join(f"{k}={v!s}" for k, v in (span.attributes or {}).items())
        branch = "" if top else ("└── " if last else "├── ")
        lines.append(f"{prefix}{branch}{span.name} [{span.kind.name}] {attrs}")
        below = children.get(span.context.span_id, [])
        for i, child in enumerate(below):
            walk(child, prefix + ("" if top else ("    " if last else "│   ")), i == len(below) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return "\n".join(lines)


def main() -> None:
    for run in ("retried call", "chunked batch"):
        print(f"# {run}")
        print(render(_spans(run)))


if __name__ == "__main__":
    main()
