"""The README's observability section shows the trees demo/otel_trees.py renders from the SDK's
in-memory span exporter, exactly, and names every instrument the hook creates."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from demo import otel_trees
from resilience import OpenTelemetryHook

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Observability", 1)[1].split("\n## ", 1)[0]


def test_the_readme_trees_are_the_renderers_output() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        otel_trees.main()
    [block] = re.findall(r"```text\n(.*?)```", SECTION, flags=re.S)
    assert block == out.getvalue()
    assert "resilience.batch.chunk.first_item=2" in block  # the chunk answered 503 once
    assert block.count("http.request.resend_count=1") == 2  # a retry in each tree


def test_the_readme_names_every_instrument_with_its_unit() -> None:
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(meter_provider=MeterProvider(metric_readers=[reader]))
    hook.provide("outbox", lambda: {"depth": 1, "bytes": 1, "oldest_age_seconds": 1, "dead_letters": 1})
    hook.provide("fleet", lambda: {"fallbacks": 1})
    ins = hook.instruments
    ins.attempt_duration.record(0.1, {})
    ins.call_duration.record(0.1, {})
    ins.retries.add(1, {})
    ins.transitions.add(1, {})
    ins.batch_items.add(1, {})
    data = reader.get_metrics_data()
    assert data is not None
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    names = {m.name for m in metrics}
    assert len(names) == 10  # the observable gauges without a bound client report nothing
    for m in metrics:
        short = m.name.rsplit(".", 1)[1] if m.name.startswith("resilience.client.outbox.") else m.name
        assert short in SECTION, m.name
        assert f"`{m.unit}`" in SECTION, (m.name, m.unit)
    for name in ("resilience.client.breaker.state", "resilience.client.retry_budget.remaining"):
        assert f"`{name}`" in SECTION
