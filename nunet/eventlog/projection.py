"""Projections: folds of the log into state, stored with the position they reached.

A projection's state and position are saved in one transaction, so after a crash it resumes
from a position that matches its state exactly; replay() rebuilds it from seq 1.
"""

from __future__ import annotations

import abc
from typing import Generic, TypeVar

import msgspec

from nunet.eventlog.event import EventRecord
from nunet.eventlog.log import EventLog
from nunet.eventlog.progress import SeqWaiters
from nunet.eventlog.projection_store import ProjectionStore

S = TypeVar("S")


class Projection(abc.ABC, Generic[S]):
    """A named fold of records into a state of type S.

    `evolve` may update the state in place (the runner owns it) and must return it; it must
    depend only on the state and the record, so that a replay gives the same state.
    """

    name: str
    types: frozenset[str] | None = None  # the record types it reads; None: every type

    def __init__(self, state_type: type[S]) -> None:
        self._state_decoder = msgspec.msgpack.Decoder(state_type)
        self._state_encoder = msgspec.msgpack.Encoder()

    @abc.abstractmethod
    def initial(self) -> S:
        """The state before any record."""

    @abc.abstractmethod
    def evolve(self, state: S, record: EventRecord) -> S:
        """The state after `record`."""

    def encode_state(self, state: S) -> bytes:
        return self._state_encoder.encode(state)

    def decode_state(self, data: bytes) -> S:
        return self._state_decoder.decode(data)

    def wants(self, record: EventRecord) -> bool:
        return self.types is None or record.type in self.types


async def replay(
    log: EventLog, projection: Projection[S], *, to_seq: int | None = None
) -> tuple[int, S]:
    """(position, state) of `projection` rebuilt from seq 1 up to to_seq (default: the head)."""
    end = (await log.head())[0] if to_seq is None else to_seq
    state = projection.initial()
    async for record in log.read(1, end, projection.types):
        state = projection.evolve(state, record)
    return end, state


class ProjectionRunner(Generic[S]):
    """Keeps one projection up to date with a log, saving (position, state) as it goes."""

    def __init__(
        self,
        log: EventLog,
        projection: Projection[S],
        store: ProjectionStore,
        *,
        save_every: int = 1000,
    ) -> None:
        self._log = log
        self.projection = projection
        self._store = store
        self._save_every = save_every
        self.position = 0
        self.state: S = projection.initial()
        self._unsaved = 0
        self._waiters = SeqWaiters()

    async def load(self) -> None:
        """Resume from the stored (position, state), or start from zero."""
        stored = await self._store.load(self.projection.name)
        if stored is None:
            self.position, self.state = 0, self.projection.initial()
        else:
            self.position, self.state = stored[0], self.projection.decode_state(stored[1])

    async def save(self) -> None:
        await self._store.save(
            self.projection.name, self.position, self.projection.encode_state(self.state)
        )
        self._unsaved = 0

    async def catch_up(self) -> S:
        """Apply every record up to the current head, save, and return the state."""
        async for record in self._log.read(self.position + 1):
            await self._apply(record)
        self.position = max(self.position, (await self._log.head())[0])
        await self.save()
        return self.state

    async def run(self) -> None:
        """Load, then follow the log until it closes or the task is cancelled; saves on exit."""
        await self.load()
        try:
            async for record in self._log.tail(self.position + 1):
                await self._apply(record)
        finally:
            if self._unsaved:
                await self.save()

    async def rebuild(self) -> S:
        """Throw the state away and replay from seq 1; saves the result."""
        self.position, self.state = await replay(self._log, self.projection)
        await self.save()
        self._wake()
        return self.state

    async def wait_for(self, seq: int) -> None:
        """Return once the projection has processed `seq` (wrap in asyncio.timeout)."""
        await self._waiters.wait(seq, self.position)

    async def _apply(self, record: EventRecord) -> None:
        if self.projection.wants(record):
            self.state = self.projection.evolve(self.state, record)
        self.position = record.seq
        self._unsaved += 1
        if self._unsaved >= self._save_every:
            await self.save()
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        self._waiters.wake(self.position)
