"""A delivery lane: a bounded FIFO drained by one task that exists only while there is work.

Transports give each (sender, destination) pair and each subscription its own lane, so a slow
handler holds up only the messages queued behind it, in order, and never the caller of `send`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

_log = logging.getLogger(__name__)

Item = TypeVar("Item")


class LaneClosed(Exception):
    """The lane was closed; it accepts nothing more (internal: transports translate it)."""


class DeliveryLane(Generic[Item]):
    """Items are delivered one at a time, in the order they were accepted.

    `deliver` exceptions are logged and never stop the lane. `on_idle` is called when the lane
    has drained (not when it was closed), so its owner can drop it and keep memory bounded.
    """

    def __init__(
        self,
        deliver: Callable[[Item], Awaitable[None]],
        *,
        capacity: int,
        name: str,
        on_idle: Callable[[DeliveryLane[Item]], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a delivery lane holds at least one item, not {capacity}")
        self._deliver = deliver
        self._capacity = capacity
        self._name = name
        self._on_idle = on_idle
        self._items: deque[Item] = deque()
        self._not_full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def worker(self) -> asyncio.Task[None] | None:
        """The task draining the lane, if it is draining now."""
        return self._worker

    def offer(self, item: Item) -> bool:
        """Accept `item` if there is room; False when full. Raises LaneClosed."""
        if self._closed:
            raise LaneClosed(self._name)
        if len(self._items) >= self._capacity:
            return False
        self._accept(item)
        return True

    async def put(self, item: Item) -> None:
        """Accept `item`, waiting while the lane is full. Raises LaneClosed."""
        while len(self._items) >= self._capacity:
            if self._closed:
                raise LaneClosed(self._name)
            self._not_full.clear()
            await self._not_full.wait()
        if self._closed:
            raise LaneClosed(self._name)
        self._accept(item)

    def close(self) -> None:
        """Drop queued items, start no more deliveries, fail waiting `put`s with LaneClosed.

        A delivery already running finishes; cancel `worker` to stop it too.
        """
        self._closed = True
        self._items.clear()
        self._not_full.set()

    def _accept(self, item: Item) -> None:
        self._items.append(item)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name=f"delivery {self._name}"
            )

    async def _drain(self) -> None:
        try:
            while self._items and not self._closed:
                item = self._items.popleft()
                self._not_full.set()
                try:
                    await self._deliver(item)
                except Exception:
                    _log.exception("delivery on %s failed; the lane goes on", self._name)
        finally:
            self._worker = None
        if self._on_idle is not None and not self._closed:
            self._on_idle(self)
