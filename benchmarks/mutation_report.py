"""Per-module mutation scores from a finished ``mutmut run``: ``python -m benchmarks.mutation_report``.

Reads the modules from ``[tool.mutmut] only_mutate`` in pyproject.toml, each module's results
from ``mutants/<module>.meta``, and the survivors excluded from the score (equivalent mutants,
and mutants of code that runs only at import time) from the list in benchmarks/MUTATION.md.
A timeout counts as killed: the tests noticed (a hang). Score = killed / (mutants - excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES = Path(__file__).with_name("MUTATION.md")

#: mutmut's exit codes, as its own ``mutmut results`` reads them.
KILLED = frozenset({1, 3})
TIMEOUT = frozenset({36, 24, -24, 152, 255})
SURVIVED = 0
NO_TESTS = frozenset({5, 33})

_EXCLUDED = re.compile(r"^- `(?P<name>resilience\.[^`]+__mutmut_\d+)` \((?P<kind>equivalent|import time)\):")


@dataclass
class ModuleScore:
    path: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float | None:
        counted = self.total - self.counts["excluded"]
        return (self.counts["killed"] + self.counts["timeout"]) / counted if counted else None


def excluded_mutants(notes: str) -> dict[str, str]:
    """Mutant name -> kind (``equivalent`` or ``import time``), from the list in MUTATION.md."""
    return {m["name"]: m["kind"] for line in notes.splitlines() if (m := _EXCLUDED.match(line))}


def classify(code: int | None, excluded: bool) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code is None:
        return "not checked"
    if code == SURVIVED or code in NO_TESTS:
        return "excluded" if excluded else ("survived" if code == SURVIVED else "no tests")
    return "other"


def score_module(path: str, results: Mapping[str, int | None], excluded: Mapping[str, str]) -> ModuleScore:
    score = ModuleScore(path)
    for name, code in sorted(results.items()):
        kind = classify(code, name in excluded)
        score.counts[kind] += 1
        if kind in {"survived", "no tests", "not checked", "other"}:
            score.survivors.append(name)
        elif name in excluded and kind in {"killed", "timeout"}:
            score.stale.append(name)  # listed as excluded, yet killed: the list needs updating
    prefix = path.removesuffix(".py").replace("/", ".") + "."
    score.stale += sorted(n for n in excluded if n.startswith(prefix) and n not in results)
    return score


def load_results(mutants: Path, path: str) -> dict[str, int | None] | None:
    meta = mutants / f"{path}.meta"
    if not meta.exists():
        return None
    data = json.loads(meta.read_text("utf-8"))
    return dict(data["exit_code_by_key"])


def render(scores: Sequence[ModuleScore]) -> str:
    head = f"{'module':<34}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}{'excluded':>9}{'score':>8}"
    lines = [head, "-" * len(head)]
    for s in scores:
        c = s.counts
        shown = "n/a" if s.score is None else f"{100 * s.score:.1f}%"
        missed = c["survived"] + c["no tests"] + c["not checked"] + c["other"]
        lines.append(
            f"{s.path:<34}{s.total:>8}{c['killed']:>8}{c['timeout']:>8}{missed:>9}{c['excluded']:>9}{shown:>8}"
        )
    for s in scores:
        if s.survivors:
            lines += ["", f"{s.path}: not killed (see `mutmut show NAME`)"]
            lines += [f"  {name}" for name in s.survivors]
        if s.stale:
            lines += ["", f"{s.path}: listed as excluded in {NOTES.name} but killed or gone: update the list"]
            lines += [f"  {name}" for name in s.stale]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's working directory")
    args = parser.parse_args(argv)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]
    excluded = excluded_mutants(NOTES.read_text("utf-8"))
    scores: list[ModuleScore] = []
    for path in config["only_mutate"]:
        results = load_results(args.mutants, path)
        if results is None:
            print(f"{path}: no results in {args.mutants} (run `make mutation` first)", file=sys.stderr)
            continue
        scores.append(score_module(path, results, excluded))
    print(render(scores))
    return 0 if scores else 1


if __name__ == "__main__":
    sys.exit(main())
