"""Live fan-out of committed records to the tails of one log, on the event loop thread.

A subscriber that falls too far behind is marked overflowed instead of buffering without
bound; its tail then re-reads the history it missed from the store.
"""

from __future__ import annotations

import asyncio
from collections import deque

from nunet.eventlog.event import EventRecord

DEFAULT_MAX_PENDING = 100_000


class Subscription:
    """The records committed since a tail subscribed, in batches."""

    def __init__(self, max_pending: int) -> None:
        self._batches: deque[list[EventRecord]] = deque()
        self._pending = 0
        self._max_pending = max_pending
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def _push(self, records: list[EventRecord]) -> None:
        if self.overflowed:
            return
        self._pending += len(records)
        if self._pending > self._max_pending:
            self.overflowed = True
            self._batches.clear()
        else:
            self._batches.append(records)
        self._ready.set()

    def _close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next_batch(self) -> list[EventRecord] | None:
        """The next batch; None when overflowed or closed (look at the flags)."""
        while not self._batches:
            if self.overflowed or self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        batch = self._batches.popleft()
        self._pending -= len(batch)
        return batch


class LiveFeed:
    """The subscriptions of one log. Not thread-safe: call it on the loop that owns the log."""

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._subscriptions: set[Subscription] = set()
        self._max_pending = max_pending
        self.closed = False

    def subscribe(self) -> Subscription:
        subscription = Subscription(self._max_pending)
        if self.closed:
            subscription._close()
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, records: list[EventRecord]) -> None:
        for subscription in self._subscriptions:
            subscription._push(records)

    def close(self) -> None:
        self.closed = True
        for subscription in self._subscriptions:
            subscription._close()
        self._subscriptions.clear()
