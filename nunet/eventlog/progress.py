"""Waiting for a position in a sequence of records without polling.

Projections, replicas and the replication outbox move through record seqs; callers wait for a
seq with `await waiters.wait(seq, position)`, and the owner calls `waiters.wake(position)`
whenever its position moves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class SeqWaiters:
    """The callers waiting for positions not reached yet, earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties never compare futures

    def __bool__(self) -> bool:
        return bool(self._heap)

    async def wait(self, seq: int, position: int) -> None:
        """Return once `wake` reports a position of at least `seq` (at once if `position` is)."""
        if position >= seq:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (seq, next(self._order), waiter))
        await waiter

    def wake(self, position: int) -> None:
        """Release every waiter whose seq `position` has reached."""
        while self._heap and self._heap[0][0] <= position:
            _, _, waiter = heapq.heappop(self._heap)
            if not waiter.done():
                waiter.set_result(None)
