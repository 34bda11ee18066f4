"""Periodic checkpoints: the node key signs the log's head every N records or T seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nunet.eventlog.errors import LogClosed
from nunet.eventlog.event import EventRecord
from nunet.eventlog.events import LogCheckpoint, checkpoint_message
from nunet.eventlog.log import EventLog
from nunet.identity import KeyPair


class Checkpointer:
    """Appends a LogCheckpoint signed by `key` after `every_records` records or `every_seconds`.

    A checkpoint is only written when there is something new to vouch for, so an idle log
    does not fill up with checkpoints of itself.
    """

    def __init__(
        self,
        log: EventLog,
        key: KeyPair,
        *,
        every_records: int = 10_000,
        every_seconds: float = 60.0,
        actor: str = "",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if every_records < 1 or every_seconds <= 0:
            raise ValueError("every_records must be >= 1 and every_seconds > 0")
        self._log = log
        self._key = key
        self._every_records = every_records
        self._every_seconds = every_seconds
        self._actor = actor
        self._clock = clock
        self._since = 0
        self._due = asyncio.Event()

    async def checkpoint(self) -> EventRecord | None:
        """Sign the current head now; None when the head is already a checkpoint (or empty)."""
        seq, head_hash = await self._log.head()
        if seq == 0:
            return None
        last = await self._log.get(seq)
        if last is not None and last.type == LogCheckpoint.TYPE:
            return None
        signed_at = self._clock()
        message = checkpoint_message(LogCheckpoint.VERSION, seq, head_hash, signed_at)
        checkpoint = LogCheckpoint(
            seq=seq,
            head_hash=head_hash,
            signer=self._key.did,
            signature=self._key.sign(message),
            signed_at=signed_at,
        )
        self._since = 0
        return await self._log.append(checkpoint, actor=self._actor)

    async def run(self) -> None:
        """Checkpoint until cancelled or the log closes."""
        head_seq, _ = await self._log.head()
        counting = asyncio.create_task(self._count(head_seq + 1))
        try:
            while True:
                due = asyncio.create_task(self._due.wait())
                done, _ = await asyncio.wait(
                    {due, counting},
                    timeout=self._every_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                due.cancel()
                if counting in done:
                    counting.result()  # re-raise what ended the tail, if anything
                    return
                self._due.clear()
                try:
                    await self.checkpoint()
                except LogClosed:
                    return
        finally:
            counting.cancel()

    async def _count(self, from_seq: int) -> None:
        async for record in self._log.tail(from_seq):
            if record.type == LogCheckpoint.TYPE:
                continue
            self._since += 1
            if self._since >= self._every_records:
                self._due.set()
