"""Rounds, interleaving and the figures reported: medians of rates, min-max, ratios of medians.

A variant is a callable ``run(n) -> seconds`` that performs ``n`` operations and returns the
time they took (it times itself, so set-up and checks stay outside the measurement). Every
round runs every variant for its ``n`` operations, in an order rotated by one each round; a
variant's ``n`` is further cut into ``slices`` chunks and the chunks of all variants alternate
within the round, so the slow phases of a noisy machine (seconds long) fall on all variants
alike. A round's rate is the variant's ``n`` over the sum of its chunks' times.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

__all__ = ["Check", "RowResult", "Summary", "Variant", "gathered", "run_rounds"]

RunFn = Callable[[int], float]


@dataclass(frozen=True)
class Variant:
    """``n`` operations per round; with ``seconds`` set, ``n`` is instead calibrated after the
    warm-up so that one run takes about that long (at most ``max_n``, a multiple of ``multiple``),
    which keeps a loaded machine from stretching the whole run."""

    name: str
    run: RunFn
    n: int  # operations per round (or the minimum, when calibrated)
    unit: str = "req/s"  # what one operation is, per second
    warmup: int = 0
    seconds: float | None = None
    max_n: int | None = None
    multiple: int = 1
    slices: int = 1  # chunks per round, alternated with the other variants' chunks

    def calibrated(self) -> Variant:
        """Fix ``n`` (from ``seconds`` if set) to a multiple of ``multiple * slices``."""
        n = self.n
        if self.seconds is not None:
            probe = max(self.warmup, self.multiple, 1)
            elapsed = self.run(probe)
            rate = probe / elapsed if elapsed > 0 else float(self.max_n or self.n)
            n = max(self.n, int(rate * self.seconds))
            if self.max_n is not None:
                n = min(n, self.max_n)
        step = self.multiple * self.slices
        n = max(step, n - n % step)
        return replace(self, n=n, seconds=None)


@dataclass(frozen=True)
class Summary:
    """Rates (operations per second) of one variant across rounds."""

    name: str
    unit: str
    n: int
    rates: tuple[float, ...]
    cpu: tuple[float, ...] = ()  # client-process CPU seconds per operation, per round

    @property
    def cpu_us(self) -> float | None:
        """Median client CPU per operation (µs): steadier than wall time on a loaded machine."""
        return 1e6 * statistics.median(self.cpu) if self.cpu else None

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def low(self) -> float:
        return min(self.rates)

    @property
    def high(self) -> float:
        return max(self.rates)

    def us_per_op(self, rate: float | None = None) -> float:
        r = self.median if rate is None else rate
        return 1e6 / r if r > 0 else float("inf")


@dataclass(frozen=True)
class Check:
    """One target: ``value`` (a ratio, or MiB for memory) against ``threshold``."""

    label: str
    value: float | None
    threshold: float
    target: str
    higher_is_better: bool = True
    extra_ok: bool = True  # a non-timed condition that must also hold (e.g. no socket opened)
    detail: str = ""
    unit: str = "x"

    @property
    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        return f"{self.value:.3f}x" if self.unit == "x" else f"{self.value:.3f} {self.unit}"

    @property
    def met(self) -> bool:
        if self.value is None or not self.extra_ok:
            return False
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold


@dataclass
class RowResult:
    name: str
    measured: str
    summaries: list[Summary] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def summary(self, name: str) -> Summary:
        for s in self.summaries:
            if s.name == name:
                return s
        raise KeyError(name)

    def ratio(self, a: str, b: str) -> float:
        """Ratio of medians, a over b."""
        return self.summary(a).median / self.summary(b).median

    def paired(self, a: str, b: str) -> str:
        """The same ratio round by round (each round's runs are adjacent in time), for spread."""
        ra, rb = self.summary(a).rates, self.summary(b).rates
        per = [x / y for x, y in zip(ra, rb, strict=True) if y > 0]
        if not per:
            return ""
        return f"per-round ratios {min(per):.3f} - {max(per):.3f} (median {statistics.median(per):.3f})"


def run_rounds(variants: Sequence[Variant], rounds: int) -> list[Summary]:
    """Warm every variant up (and calibrate it), then ``rounds`` rounds of all variants in
    rotating order, their chunks alternating."""
    for v in variants:
        if v.warmup:
            v.run(v.warmup)
    variants = [v.calibrated() for v in variants]
    rates: Mapping[str, list[float]] = {v.name: [] for v in variants}
    cpu: Mapping[str, list[float]] = {v.name: [] for v in variants}
    k = len(variants)
    most = max(v.slices for v in variants)
    for r in range(rounds):
        order = [variants[(r + i) % k] for i in range(k)]
        wall = dict.fromkeys(rates, 0.0)
        used = dict.fromkeys(rates, 0.0)
        gc.collect()
        for chunk in range(most):
            for v in order:
                if chunk >= v.slices:
                    continue
                c0 = time.process_time()
                wall[v.name] += v.run(v.n // v.slices)
                used[v.name] += time.process_time() - c0
        for v in variants:
            cpu[v.name].append(used[v.name] / v.n)
            rates[v.name].append(v.n / wall[v.name] if wall[v.name] > 0 else float("inf"))
    return [Summary(v.name, v.unit, v.n, tuple(rates[v.name]), tuple(cpu[v.name])) for v in variants]


def gathered(loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[object]], tasks: int) -> RunFn:
    """A variant's run: ``n`` calls shared out among ``tasks`` concurrent tasks on ``loop``."""

    async def many(n: int) -> float:
        per = n // tasks

        async def worker() -> None:
            for _ in range(per):
                await call()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        return time.perf_counter() - t0

    def run(n: int) -> float:
        return loop.run_until_complete(many(n))

    return run
