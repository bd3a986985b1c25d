"""Without the ``otel`` extra the SDK imports nothing of OpenTelemetry: importing it, building
clients and making calls, sync and async, never even tries; only building the hook does, and
then it says which extra to install. A fresh interpreter with a meta-path blocker stands in for
an environment without the packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys

    tried = []

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                tried.append(name)
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Blocker())

    import httpx
    import resilience
    import finops_api_client
    from finops_api_client import AsyncFinOpsClient, FinOpsClient

    HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}

    def handler(request):
        return httpx.Response(200, json=HEALTH)

    with FinOpsClient("http://127.0.0.1:1", api_key="k", transport=httpx.MockTransport(handler)) as client:
        assert client.get_health().status == "ok"

    async def main():
        async with AsyncFinOpsClient("http://127.0.0.1:1", api_key="k", transport=httpx.MockTransport(handler)) as c:
            assert (await c.get_health()).status == "ok"

    asyncio.run(main())
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    print("loaded", loaded, "tried", tried)
    try:
        resilience.OpenTelemetryHook()
    except resilience.ConfigurationError as exc:
        print("hook", exc)
    """
)


def test_no_opentelemetry_module_is_imported_or_tried_without_the_extra() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "loaded [] tried []", out.stdout + out.stderr
    assert lines[1] == "hook OpenTelemetryHook needs opentelemetry-api: pip install 'finops-sdk[otel]'"
