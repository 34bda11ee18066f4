"""Feeding the index from the swarm log: every node's verified records, decoded and applied.

A record the index does not read is skipped without decoding; one it cannot decode (a newer
version, a payload that does not validate) or apply is reported as an `IndexProblem` and
skipped; nothing a remote node writes can stop the indexer.
"""

from __future__ import annotations

import asyncio
import collections
from contextlib import aclosing

import msgspec
import structlog

from nunet.eventlog import Catalogue, EventLogError, EventRecord, SeqWaiters
from nunet.index.errors import CapabilityIndexError
from nunet.index.index import INDEXED_EVENTS, INDEXED_TYPES, CapabilityIndex
from nunet.replication import Backoff, ChainProblem, NodeRecord, ReplicationError, SwarmLogReader

log = structlog.get_logger("nunet.index")
PROBLEMS_KEPT = 256


class IndexProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A record the index skipped, and why."""

    node: str
    seq: int
    type: str
    reason: str


def index_catalogue() -> Catalogue:
    """A catalogue of just the event types the index reads."""
    return Catalogue(*INDEXED_EVENTS)


class SwarmIndexer:
    """Keeps `index` up to date with the swarm log read through `reader`.

    `catalogue` (default: `index_catalogue()`) must know every type the index reads; pass the
    node's full catalogue to share its upcasters. `positions` holds the last seq applied per
    node; `problems` the last `PROBLEMS_KEPT` records skipped (`skipped` counts them all);
    `chain_problems` what the reader refused (never applied); `interruptions` how many times
    following had to start again.
    """

    def __init__(
        self,
        reader: SwarmLogReader,
        index: CapabilityIndex,
        *,
        catalogue: Catalogue | None = None,
    ) -> None:
        catalogue = catalogue or index_catalogue()
        missing = sorted(t for t in INDEXED_TYPES if t not in catalogue)
        if missing:
            raise CapabilityIndexError(
                f"the catalogue lacks {', '.join(missing)}: add nunet.onboarding.events.EVENTS "
                "and nunet.peers.events.EVENTS to it"
            )
        self._reader = reader
        self.index = index
        self._catalogue = catalogue
        self.positions: dict[str, int] = {}
        self.applied = 0
        self.skipped = 0
        self.interruptions = 0  # times the stream was missing or unreachable while following
        self.problems: collections.deque[IndexProblem] = collections.deque(maxlen=PROBLEMS_KEPT)
        self.chain_problems: collections.deque[ChainProblem] = collections.deque(
            maxlen=PROBLEMS_KEPT
        )
        self._waiters: dict[str, SeqWaiters] = {}

    async def run(self) -> None:
        """Follow the swarm log until cancelled.

        While the swarm's stream is missing (no node replicates yet) or unreachable, it retries
        with capped backoff (0.1 s doubling to 5 s); reading again from the stream's start
        applies nothing twice (records up to `positions` are skipped).
        """
        backoff = Backoff(0.1, 5.0)
        while True:
            before = self.applied + self.skipped
            try:
                await self._consume(follow=True)
                reason = "the swarm log subscription ended"
            except ReplicationError as exc:
                reason = str(exc)
            self.interruptions += 1
            if self.applied + self.skipped != before:
                backoff.reset()
            log.warning("index.swarm_unavailable", reason=reason)
            await asyncio.sleep(backoff.next_delay())

    async def catch_up(self) -> CapabilityIndex:
        """Apply everything the stream holds now (from its start), and return the index."""
        await self._consume(follow=False)
        return self.index

    async def wait_for(self, node: str, seq: int) -> None:
        """Return once `node`'s records up to `seq` were applied (wrap in asyncio.timeout)."""
        waiters = self._waiters.setdefault(node, SeqWaiters())
        await waiters.wait(seq, self.positions.get(node, 0))

    def apply(self, item: NodeRecord) -> None:
        """Apply one record of the swarm log (what `run` does with each)."""
        record = item.record
        if record.seq <= self.positions.get(item.node, 0):
            return  # read again after an interruption
        if record.type in INDEXED_TYPES:
            reason = apply_record(self.index, self._catalogue, item.node, record)
            if reason is None:
                self.applied += 1
            else:
                self._skip(
                    IndexProblem(node=item.node, seq=record.seq, type=record.type, reason=reason)
                )
        self.positions[item.node] = record.seq
        waiters = self._waiters.get(item.node)
        if waiters:
            waiters.wake(record.seq)

    async def _consume(self, *, follow: bool) -> None:
        records = self._reader.swarm(follow=follow, on_problem=self._refused)
        async with aclosing(records):
            async for item in records:
                self.apply(item)

    def _skip(self, problem: IndexProblem) -> None:
        self.skipped += 1
        self.problems.append(problem)
        log.warning(
            "index.record_skipped",
            node=problem.node,
            seq=problem.seq,
            type=problem.type,
            reason=problem.reason,
        )

    def _refused(self, problem: ChainProblem) -> None:
        self.chain_problems.append(problem)
        log.warning(
            "index.record_refused",
            node=problem.node,
            seq=problem.seq,
            kind=problem.kind,
            reason=problem.reason,
        )


def apply_record(
    index: CapabilityIndex, catalogue: Catalogue, node: str, record: EventRecord
) -> str | None:
    """Decode `record` of `node`'s log and apply it; why not, if it could not be (a newer
    version, a bad payload, an event the index refuses): such a record is skipped, never fatal."""
    try:
        index.apply(node, catalogue.decode(record), record.timestamp)
    except (
        EventLogError,
        CapabilityIndexError,
        msgspec.ValidationError,
        msgspec.DecodeError,
    ) as exc:
        return str(exc)
    return None


async def follow_swarm(
    reader: SwarmLogReader, index: CapabilityIndex, catalogue: Catalogue | None = None
) -> None:
    """Keep `index` up to date with the swarm log until cancelled."""
    await SwarmIndexer(reader, index, catalogue=catalogue).run()
