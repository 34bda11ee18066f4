"""Records read ahead of the outbox's sender from the log's tail, encoded, so that it can take
whatever is ready now as one message without ever waiting for a batch to fill.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from nunet.eventlog import EventRecord
from nunet.replication.stream import encode_record


class ReadAhead:
    """A bounded buffer of (seq, encoded record), filled by `run()` from `records` in seq order.

    `on_record` sees every record as it is read (the outbox notes the head with it).
    """

    def __init__(
        self,
        records: AsyncIterator[EventRecord],
        *,
        capacity: int,
        on_record: Callable[[EventRecord], None] = lambda record: None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._records = records
        self._capacity = capacity
        self._on_record = on_record
        self._ready: deque[tuple[int, bytes]] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._ended = False

    async def run(self) -> None:
        """Read the records until they end (the log closed)."""
        async for record in self._records:
            while len(self._ready) >= self._capacity:
                self._room.clear()
                await self._room.wait()
            self._on_record(record)
            self._ready.append((record.seq, encode_record(record)))
            self._arrived.set()
        self._ended = True
        self._arrived.set()

    async def next_seq(self) -> int | None:
        """The seq of the next record, once one is ready; None when they ended and all are taken."""
        while not self._ready:
            if self._ended:
                return None
            self._arrived.clear()
            await self._arrived.wait()
        return self._ready[0][0]

    def skip(self) -> None:
        """Drop the next record (the stream holds it already)."""
        self._ready.popleft()
        self._room.set()

    def take_ready(self, limit: int, max_bytes: int) -> list[bytes]:
        """Up to `limit` records ready now, together at most `max_bytes` (at least one record:
        the caller checked one is ready)."""
        taken = [self._ready.popleft()[1]]
        size = len(taken[0])
        ready = self._ready
        while ready and len(taken) < limit and size + len(ready[0][1]) <= max_bytes:
            data = ready.popleft()[1]
            taken.append(data)
            size += len(data)
        self._room.set()
        return taken

    async def take_exactly(self, count: int) -> list[bytes] | None:
        """The next `count` records, waiting for those not read yet (a message sent again);
        None when the records end first (the log closed)."""
        taken: list[bytes] = []
        while len(taken) < count:
            if await self.next_seq() is None:
                return None
            taken.append(self._ready.popleft()[1])
            self._room.set()
        return taken
