"""CPU score of the reserved share: deflate operations per second on one core and on all."""

from __future__ import annotations

import math
import os

from nunet.benchmark.workers import run_worker, run_workers


def worker_count(cores: float) -> int:
    """Processes for the multi-core score: the reserved cores rounded up, at most the machine's."""
    return max(1, min(math.ceil(cores), os.cpu_count() or 1))


async def measure_cpu_single(cores: float, seconds: float) -> float:
    """Operations per second of one worker, scaled down when less than one core is reserved."""
    return await run_worker("cpu", seconds) * min(1.0, cores)


async def measure_cpu_multi(cores: float, seconds: float) -> float:
    """Operations per second of all workers together; a fractional share (1.5 cores on two
    workers) is credited with its fraction of what the workers did."""
    workers = worker_count(cores)
    return await run_workers("cpu", seconds, workers) * min(1.0, cores / workers)
