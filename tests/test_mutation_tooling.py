"""`make mutation`'s own pieces, without running mutmut: the scope plugin, the report, the list."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from benchmarks.mutation_report import NOTES, ROOT, excluded_mutants, render, score_module
from tests.mutation_scope import load_scope, mutated_module

PYPROJECT = ROOT / "pyproject.toml"


def test_a_mutant_name_gives_its_module_and_mutmuts_own_runs_give_none() -> None:
    assert mutated_module("resilience._breaker.xǁCircuitBreakerǁcheck__mutmut_1") == "resilience/_breaker.py"
    assert mutated_module("resilience._retry.x_parse_retry_after__mutmut_21") == "resilience/_retry.py"
    for own_run in ("", "stats", "fail", "mutant_generation"):
        assert mutated_module(own_run) is None


def test_every_mutated_module_has_test_modules_that_exist_and_mutmut_selects() -> None:
    scope = load_scope(PYPROJECT)
    mutmut = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"]["mutmut"]
    assert set(scope) == set(mutmut["only_mutate"])
    for module, tests in scope.items():
        assert (ROOT / module).is_file()
        assert tests
        assert all((ROOT / test).is_file() for test in tests), module


def test_a_scope_naming_a_test_module_mutmut_does_not_select_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.mutmut]\nonly_mutate = ["m.py"]\npytest_add_cli_args_test_selection = ["tests/test_a.py"]\n'
        '[tool.mutation-scope]\n"m.py" = ["tests/test_a.py", "tests/test_b.py"]\n',
        "utf-8",
    )
    with pytest.raises(pytest.UsageError, match=r"test_b\.py"):
        load_scope(pyproject)


def test_every_listed_exclusion_parses_and_says_why() -> None:
    bullets = [line for line in NOTES.read_text("utf-8").splitlines() if line.startswith("- `resilience.")]
    excluded = excluded_mutants(NOTES.read_text("utf-8"))
    assert len(excluded) == len(bullets)  # no entry lost to a typo in its form
    assert set(excluded.values()) <= {"equivalent", "import time"}
    for line in bullets:
        assert re.search(r"\): \S.{10,}$", line), line


def test_the_report_scores_kills_and_timeouts_against_non_excluded_mutants() -> None:
    results: dict[str, int | None] = {
        "resilience._x.x_f__mutmut_1": 1,  # killed
        "resilience._x.x_f__mutmut_2": 36,  # timed out: killed too
        "resilience._x.x_f__mutmut_3": 0,  # survived
        "resilience._x.x_f__mutmut_4": 0,  # survived, listed as equivalent
        "resilience._x.x_f__mutmut_5": 33,  # no test executes it
    }
    excluded = {
        "resilience._x.x_f__mutmut_4": "equivalent",
        "resilience._x.x_f__mutmut_1": "equivalent",  # stale: it was killed
        "resilience._x.x_f__mutmut_9": "equivalent",  # stale: no such mutant any more
    }
    score = score_module("resilience/_x.py", results, excluded)
    assert score.score == pytest.approx(2 / 4)
    assert score.survivors == ["resilience._x.x_f__mutmut_3", "resilience._x.x_f__mutmut_5"]
    assert score.stale == ["resilience._x.x_f__mutmut_1", "resilience._x.x_f__mutmut_9"]
    text = render([score])
    assert "resilience/_x.py" in text
    assert "50.0%" in text
    assert "update the list" in text
