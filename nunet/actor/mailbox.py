"""An actor's mailbox: a bounded FIFO with one consumer, cheaper than asyncio.Queue on the hot path.

One consumer (the actor's own loop) means one waiting getter at most, so waking it is a single
future; producers that find the mailbox full wait their turn (back-pressure).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class MailboxFull(Exception):
    """put_nowait on a full mailbox."""


class Mailbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return len(self._items) >= self._capacity

    def put_nowait(self, item: T) -> None:
        if len(self._items) >= self._capacity:
            raise MailboxFull(f"mailbox holds {self._capacity} messages already")
        self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def put(self, item: T) -> None:
        while len(self._items) >= self._capacity:
            putter = asyncio.get_running_loop().create_future()
            self._putters.append(putter)
            try:
                await putter
            except asyncio.CancelledError:
                self._wake_putter()  # pass our turn on
                raise
        self.put_nowait(item)

    async def get(self) -> T:
        while not self._items:
            getter = self._getter = asyncio.get_running_loop().create_future()
            try:
                await getter
            finally:
                if self._getter is getter:
                    self._getter = None
        item = self._items.popleft()
        if self._putters:
            self._wake_putter()
        return item

    def _wake_putter(self) -> None:
        while self._putters:
            putter = self._putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return
