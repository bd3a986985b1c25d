"""pytest plugin for ``make mutation``: a mutant runs only against its own module's test modules.

mutmut (``[tool.mutmut]`` in pyproject.toml) runs each mutant against the tests that executed
the function it changes. This plugin, loaded by mutmut's ``pytest_add_cli_args``, narrows that to
the test modules that ``[tool.mutation-scope]`` lists for the mutated module, so a breaker
mutant is not run again by every batch test that happens to pass through the breaker. Outside a
mutant run (no ``MUTANT_UNDER_TEST``, or mutmut's own ``stats``/``fail`` runs) it does nothing.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

_MARK = "__mutmut_"


def mutated_module(mutant: str) -> str | None:
    """``resilience/_breaker.py`` for ``resilience._breaker.xǁCircuitBreakerǁcheck__mutmut_1``."""
    if _MARK not in mutant or "." not in mutant:
        return None
    return mutant.rsplit(".", 1)[0].replace(".", "/") + ".py"


def load_scope(pyproject: Path) -> dict[str, frozenset[str]]:
    """Mutated module -> the test modules that concern it; each must be in mutmut's selection."""
    tool = tomllib.loads(pyproject.read_text("utf-8"))["tool"]
    scope = {module: frozenset(tests) for module, tests in tool["mutation-scope"].items()}
    selection = set(tool["mutmut"]["pytest_add_cli_args_test_selection"])
    missing = sorted(set().union(*scope.values()) - selection)
    if missing:
        raise pytest.UsageError(f"[tool.mutation-scope] names test modules mutmut does not select: {missing}")
    unscoped = sorted(set(tool["mutmut"]["only_mutate"]) - scope.keys())
    if unscoped:
        raise pytest.UsageError(f"[tool.mutation-scope] has no test modules for {unscoped}")
    return scope


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    module = mutated_module(os.environ.get("MUTANT_UNDER_TEST", ""))
    if module is None:
        return
    allowed = load_scope(config.rootpath / "pyproject.toml").get(module, frozenset())
    keep = [item for item in items if item.nodeid.split("::", 1)[0] in allowed]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
