"""The README's usage example runs as written (against the reference backend)."""

from __future__ import annotations

import re
from pathlib import Path

from reference_backend import ReferenceBackend

README = Path(__file__).resolve().parent.parent / "README.md"


def test_usage_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "FinOpsClient(" in b and "post_resources" in b)
    with ReferenceBackend(api_key="readme-key", require_auth=True) as backend:
        backend.add_items(
            "optimizations",
            [{"optimizationId": "opt-1", "resourceId": "r", "optimizationType": "RIGHTSIZE", "estimatedSavings": 1.0}],
        )
        code = example.replace('"https://finops.example.com"', repr(backend.url)).replace(
            'api_key="..."', 'api_key="readme-key"'
        )
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
        assert backend.stats().items_stored >= 2  # the resource and the optimization
        assert backend.stored_ids("resources") == ["i-123"]
