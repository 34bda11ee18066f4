"""A replica: another node's projection, built from that node's records in the swarm log."""

from __future__ import annotations

from contextlib import aclosing
from typing import Generic, TypeVar

from nunet.eventlog import EventRecord, Projection, SeqWaiters
from nunet.replication.reader import SwarmLogReader
from nunet.replication.sequencer import ChainProblem

S = TypeVar("S")


class Replica(Generic[S]):
    """Folds node `node_did`'s verified, de-duplicated records into `projection`'s state.

    `position` is the last seq applied; `authenticated` the last seq shown to be the node's by a
    checkpoint signed with its key (records after it are hash-chained, not yet authenticated);
    `problems` what the reader refused on the way (a record that breaks the chain, or a
    checkpoint that is not the node's, is never applied). The state lives in memory: after a
    restart the replica replays from the stream.
    """

    def __init__(self, reader: SwarmLogReader, node_did: str, projection: Projection[S]) -> None:
        self._reader = reader
        self.node_did = node_did
        self.projection = projection
        self.position = 0
        self.authenticated = 0
        self.state: S = projection.initial()
        self.problems: list[ChainProblem] = []
        self._last_hash: bytes | None = None
        self._waiters = SeqWaiters()

    async def run(self) -> None:
        """Follow the node's records until cancelled."""
        await self._consume(follow=True)

    async def catch_up(self) -> S:
        """Apply what the stream holds now, and return the state."""
        await self._consume(follow=False)
        return self.state

    async def wait_for(self, seq: int) -> None:
        """Return once the replica has applied `seq` (wrap in asyncio.timeout)."""
        await self._waiters.wait(seq, self.position)

    async def _consume(self, *, follow: bool) -> None:
        records = self._reader.node(
            self.node_did,
            from_seq=self.position + 1,
            prev_hash=self._last_hash,
            follow=follow,
            on_problem=self.problems.append,
            on_authenticated=self._authenticated,
        )
        async with aclosing(records):
            async for record in records:
                self._apply(record)

    def _authenticated(self, node: str, seq: int) -> None:
        self.authenticated = max(self.authenticated, seq)

    def _apply(self, record: EventRecord) -> None:
        if self.projection.wants(record):
            self.state = self.projection.evolve(self.state, record)
        self.position = record.seq
        self._last_hash = record.hash
        if self._waiters:
            self._waiters.wake(self.position)
