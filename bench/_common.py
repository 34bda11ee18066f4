"""Shared by the benchmarks: timing, the closing JSON line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable


def best_rate(run: Callable[[], float], *, repeats: int = 3) -> float:
    """The best of `repeats` runs of `run`, which returns operations per second."""
    return max(run() for _ in range(repeats))


def report(
    name: str,
    value: float,
    unit: str,
    peer: str,
    peer_value: float,
    *,
    higher_is_better: bool = True,
) -> None:
    """Print the figure beside its peer, then the one JSON line `just bench` collects."""
    ratio = value / peer_value if higher_is_better else peer_value / value
    print(f"{name}: {value:,.1f} {unit}  vs  {peer}: {peer_value:,.1f} {unit}  (ratio {ratio:.2f})")
    print(
        json.dumps(
            {
                "bench": name,
                "value": round(value, 3),
                "unit": unit,
                "peer": peer,
                "peer_value": round(peer_value, 3),
                "ratio": round(ratio, 3),
            }
        )
    )


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
