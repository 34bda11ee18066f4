"""Expiry of pending replies with one timer per tick instead of one timer handle per call.

A request/reply call on the hot path should not pay for scheduling and cancelling its own timer
(in CPython that is a heap push and a cancel per call). Calls are grouped into ticks of
`resolution` seconds; one loop timer per non-empty tick fails the calls still pending then.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any


class Deadlines:
    """Fails futures that are still pending when their deadline (rounded up to a tick) passes."""

    def __init__(self, resolution: float = 0.01) -> None:
        self._resolution = resolution
        self._buckets: dict[int, set[asyncio.Future[Any]]] = {}

    def watch(self, future: asyncio.Future[Any], timeout: float) -> int:
        """Fail `future` with TimeoutError after `timeout` seconds; returns a ticket for `forget`."""
        loop = asyncio.get_running_loop()
        tick = math.ceil((loop.time() + timeout) / self._resolution)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = set()
            loop.call_at(tick * self._resolution, self._expire, tick)
        bucket.add(future)
        return tick

    def forget(self, future: asyncio.Future[Any], ticket: int) -> None:
        bucket = self._buckets.get(ticket)
        if bucket is not None:
            bucket.discard(future)

    def _expire(self, tick: int) -> None:
        for future in self._buckets.pop(tick, ()):
            if not future.done():
                future.set_exception(TimeoutError())
