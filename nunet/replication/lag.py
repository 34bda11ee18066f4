"""Measuring replication lag under a steady append rate (for bench/replication_lag.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from nunet.eventlog import Event, EventLog
from nunet.replication.outbox import Outbox


@dataclass(frozen=True)
class LagReport:
    """Lag in records, sampled after each append, and how long the outbox took to drain after."""

    records: int
    samples: list[int]
    drain_s: float

    @property
    def max_lag(self) -> int:
        return max(self.samples, default=0)

    def percentile(self, fraction: float) -> int:
        ordered = sorted(self.samples)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else 0


async def measure_lag(
    log: EventLog,
    outbox: Outbox,
    make_event: Callable[[int], Event],
    *,
    rate: float,
    records: int,
    batch: int = 10,
) -> LagReport:
    """Append `records` events at `rate` per second (in batches), sampling `outbox.lag` after
    each batch; then wait until the outbox has everything. The outbox must be running."""
    interval = batch / rate
    samples: list[int] = []
    start = time.monotonic()
    for first in range(0, records, batch):
        await log.append_many([make_event(i) for i in range(first, min(first + batch, records))])
        samples.append(outbox.lag)
        delay = start + (first // batch + 1) * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the load, not waiting for a result
    written = time.monotonic()
    await outbox.wait_for((await log.head())[0])
    return LagReport(records, samples, time.monotonic() - written)
