"""How a run's time is split between its parts: a pure plan, so the total stays in budget."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from nunet.benchmark.errors import BenchmarkError

MAX_BUDGET = 3600.0
# Part of the budget kept back for what no part controls: starting worker processes,
# creating and deleting files, loading the CUDA driver.
RESERVE = 0.2
WEIGHTS: Mapping[str, float] = {
    "network": 1.0,
    "cpu_single": 2.0,
    "cpu_multi": 2.0,
    "memory": 1.0,
    "disk": 3.0,
    "gpu": 3.0,
}


def check_budget(seconds: float) -> float:
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise BenchmarkError(f"budget_seconds must be a finite number of seconds, not {seconds!r}")
    if not 0 < seconds <= MAX_BUDGET:
        raise BenchmarkError(
            f"budget_seconds must be in (0, {MAX_BUDGET:g}], not {seconds:g}: give the run"
            " a few seconds (30 by default)"
        )
    return float(seconds)


def plan(budget: float, parts: Iterable[str]) -> dict[str, float]:
    """Seconds for each part, in proportion to its weight; together (1 - RESERVE) * budget."""
    chosen = list(dict.fromkeys(parts))
    unknown = [p for p in chosen if p not in WEIGHTS]
    if unknown:
        raise BenchmarkError(f"unknown benchmark parts {unknown}; known: {sorted(WEIGHTS)}")
    total = sum(WEIGHTS[p] for p in chosen)
    usable = check_budget(budget) * (1 - RESERVE)
    return {p: usable * WEIGHTS[p] / total for p in chosen}
