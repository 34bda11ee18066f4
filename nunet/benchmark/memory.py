"""Memory bandwidth of the reserved share: bytes per second copied between two large buffers."""

from __future__ import annotations

from nunet.benchmark.workers import run_worker

MAX_BUFFER = 128 * 1024 * 1024  # larger than the last-level cache of most CPUs
MIN_BUFFER = 1024 * 1024


def buffer_size(ram: int) -> int:
    """Each of the two buffers: a quarter of the reserved RAM, at most MAX_BUFFER; 0 if too small."""
    size = min(MAX_BUFFER, ram // 4)
    return size if size >= MIN_BUFFER else 0


async def measure_memory(size: int, seconds: float) -> float:
    return await run_worker("memory", seconds, str(size))
