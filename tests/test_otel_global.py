"""A hook following the global tracer provider starts no span and sends no ``traceparent``
while none is set, and spans every call, sync and async, from the moment one is set (the
API's global is set once per process: a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio

    import httpx
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from finops_api_client import AsyncFinOpsClient, FinOpsClient
    from resilience import OpenTelemetryHook

    sent = []

    def handler(request):
        sent.append("traceparent" in request.headers)
        return httpx.Response(200, json={"status": "ok", "timestamp": "2026-11-29T10:00:00Z"})

    hook = OpenTelemetryHook()
    mock = httpx.MockTransport(handler)
    client = FinOpsClient("http://127.0.0.1:1", api_key="k", transport=mock, metrics_hooks=[hook])

    async def acall():
        async with AsyncFinOpsClient(
            "http://127.0.0.1:1", api_key="k", transport=httpx.MockTransport(handler), metrics_hooks=[hook]
        ) as aclient:
            await aclient.get_health()

    client.get_health()
    asyncio.run(acall())
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    client.get_health()
    asyncio.run(acall())
    print(sent, sorted(s.name for s in exporter.get_finished_spans()))
    """
)


def test_spans_start_once_a_global_tracer_provider_is_set() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == (
        "[False, False, True, True] ['GET /api/health', 'GET /api/health', 'get_health', 'get_health']"
    ), out.stdout + out.stderr
