"""Rebuilt by replay, the index agrees with the live one; as a projection of a node's own log too."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.capability import Capability, Requirement, Resources
from nunet.eventlog import (
    EventRecord,
    ProjectionRunner,
    SQLiteProjectionStore,
    open_sqlite_log,
    replay,
)
from nunet.eventlog.event import EventEncoder
from nunet.index import CapabilityIndex, IndexProjection, SwarmIndexer
from nunet.onboarding.events import Allocated, CapabilityAnnounced, Offboarded, Released
from nunet.peers import PeerDown, PeerUp
from nunet.replication import NodeRecord
from tests.index.strategies import entries, requirements


def recorded_swarm(
    swarm: list[tuple[str, Capability, Resources]], seed: int, events: int
) -> list[NodeRecord]:
    """A swarm log as a reader delivers it: each node's records in seq order, nodes mixed."""
    rng = random.Random(seed)
    encoder = EventEncoder()
    seqs: dict[str, int] = {}
    stream = []
    dids = sorted({did for did, _, _ in swarm})
    for step in range(events):
        did, capability, free = rng.choice(swarm)
        roll = rng.random()
        if roll < 0.4:
            event: object = CapabilityAnnounced(capability=capability, free=free)
        elif roll < 0.6:
            event = Allocated(allocation=f"a{step}", resources=Resources(cpu=1.0), free=free)
        elif roll < 0.7:
            event = Released(allocation=f"a{step}", resources=Resources(cpu=1.0), free=free)
        elif roll < 0.8:
            event = PeerDown(did=rng.choice(dids), missed=2, silent_seconds=1.0)
        elif roll < 0.9:
            event = PeerUp(did=rng.choice(dids), down_seconds=1.0)
        elif roll < 0.95:
            event = Offboarded()
        else:
            event = CapabilityAnnounced(capability=capability, free=free)
        kind, version, actor, payload = encoder.encode(event, "/onboarding")  # type: ignore[arg-type]
        seq = seqs[did] = seqs.get(did, 0) + 1
        timestamp = 1_000_000 * step + rng.randrange(1000)
        stream.append(
            NodeRecord(did, EventRecord(seq, timestamp, kind, version, actor, payload, b"", b""))
        )
    return stream


class _NoReader:
    """SwarmIndexer.apply is fed directly here; the reader is never asked."""


def indexer() -> SwarmIndexer:
    return SwarmIndexer(_NoReader(), CapabilityIndex())  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    swarm=st.lists(entries(), min_size=1, max_size=8),
    seed=st.integers(0, 2**32),
    asks=st.lists(requirements(), min_size=1, max_size=4),
)
def test_replaying_the_stream_gives_the_index_built_live_between_queries(
    swarm: list[tuple[str, Capability, Resources]], seed: int, asks: list[Requirement]
) -> None:
    stream = recorded_swarm(swarm, seed, 60)
    live = indexer()
    for position, item in enumerate(stream):
        live.apply(item)
        if position % 7 == 0:
            live.index.query(asks[position % len(asks)], limit=3)  # queries change no state
    rebuilt = indexer()
    for item in stream:
        rebuilt.apply(item)
    assert live.index.snapshot() == rebuilt.index.snapshot()
    for requirement in asks:
        assert live.index.query(requirement, limit=5) == rebuilt.index.query(requirement, limit=5)
    assert live.positions == rebuilt.positions
    assert (live.skipped, list(live.problems)) == (0, [])


def test_records_read_again_after_an_interruption_are_not_applied_twice() -> None:
    swarm = [("did:key:z6MkA", Capability(resources=Resources(cpu=1.0)), Resources(cpu=1.0))]
    stream = recorded_swarm(swarm, 3, 20)
    once, twice = indexer(), indexer()
    for item in stream:
        once.apply(item)
    for item in (*stream[:12], *stream):  # following started again from the stream's start
        twice.apply(item)
    assert twice.applied == once.applied
    assert twice.index.snapshot() == once.index.snapshot()


def test_a_record_that_does_not_decode_is_reported_and_skipped() -> None:
    feeder = indexer()
    good = recorded_swarm([("did:key:z6MkA", Capability(resources=Resources()), Resources())], 1, 3)
    broken = NodeRecord(
        "did:key:z6MkB",
        EventRecord(1, 5, "capability.announced", 1, "", b"\xc1not msgpack", b"", b""),
    )
    newer = NodeRecord(
        "did:key:z6MkB", EventRecord(2, 6, "resources.allocated", 9, "", b"\x80", b"", b"")
    )
    for item in (*good, broken, newer):
        feeder.apply(item)
    assert feeder.skipped == 2
    assert [(p.node, p.seq, p.type) for p in feeder.problems] == [
        ("did:key:z6MkB", 1, "capability.announced"),
        ("did:key:z6MkB", 2, "resources.allocated"),
    ]
    assert "v9" in feeder.problems[1].reason
    assert feeder.positions == {"did:key:z6MkA": 3, "did:key:z6MkB": 2}


async def test_the_projection_of_a_nodes_own_log_survives_a_save_and_equals_a_replay(
    tmp_path: Path,
) -> None:
    owner = "did:key:z6MkOwner"
    capability = Capability(resources=Resources(cpu=4.0))
    log = await open_sqlite_log(tmp_path / "events.db")
    try:
        await log.append(CapabilityAnnounced(capability=capability, free=Resources(cpu=4.0)))
        await log.append(
            Allocated(allocation="x", resources=Resources(cpu=3.0), free=Resources(cpu=1.0))
        )
        await log.append(PeerDown(did="did:key:z6MkOther", missed=2, silent_seconds=3.0))
        store = await SQLiteProjectionStore.open(tmp_path / "projections.db")
        try:
            runner = ProjectionRunner(log, IndexProjection(owner), store)
            await runner.load()
            live = await runner.catch_up()
            resumed = ProjectionRunner(log, IndexProjection(owner), store)
            await resumed.load()  # decoded from the stored snapshot
        finally:
            await store.close()
        _, replayed = await replay(log, IndexProjection(owner))
    finally:
        await log.close()
    assert live.snapshot() == resumed.state.snapshot() == replayed.snapshot()
    entry = live.get(owner)
    assert entry is not None
    assert entry.free == Resources(cpu=1.0)
    assert [c.did for c in live.query(Requirement(cpu=1.0)).candidates] == [owner]
    assert msgspec.msgpack.decode(IndexProjection(owner).encode_state(live))["entries"]
