"""The EventLog interface: one append-only, hash-chained log per node, whatever stores it."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from types import TracebackType

from nunet.eventlog.event import Event, EventRecord


class EventLog(abc.ABC):
    """An append-only sequence of EventRecords, numbered from 1, each chained to the one before.

    Implementations: SQLiteEventLog (embedded) and PostgresEventLog (scale-out); both pass
    tests/eventlog/contract.py.
    """

    @abc.abstractmethod
    async def append(self, event: Event, *, actor: str = "") -> EventRecord:
        """Append one event; the record is durable when this returns."""

    @abc.abstractmethod
    async def append_many(self, events: Sequence[Event], *, actor: str = "") -> list[EventRecord]:
        """Append events as one durable batch, with consecutive seqs in the order given."""

    @abc.abstractmethod
    def append_nowait(self, event: Event, *, actor: str = "") -> asyncio.Future[EventRecord]:
        """Enqueue an event into the next group commit without waiting for it.

        The future resolves once the record is durable. A clean close() writes every event
        enqueued before it.
        """

    @abc.abstractmethod
    async def head(self) -> tuple[int, bytes]:
        """(seq, hash) of the last durable record; (0, ZERO_HASH) when the log is empty."""

    @abc.abstractmethod
    def read(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[EventRecord]:
        """Durable records with from_seq <= seq <= to_seq (and of `types`), in seq order."""

    @abc.abstractmethod
    def tail(self, from_seq: int = 1) -> AsyncIterator[EventRecord]:
        """Records from from_seq on: history first, then live ones as they commit.

        No record is skipped or repeated at the switch. The iteration ends when the log closes.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Write everything enqueued, end live tails, release the store. Idempotent."""

    async def get(self, seq: int) -> EventRecord | None:
        """The record with this seq, or None."""
        async for record in self.read(seq, seq):
            return record
        return None

    async def __aenter__(self) -> EventLog:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
