"""Events change the index as the rules say, one at a time, whatever order nodes' records mix in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.capability import Capability, Gpu, GpuNeed, Requirement, Resources
from nunet.eventlog import Event
from nunet.index import CapabilityIndex, InvalidEvent
from nunet.onboarding.events import (
    Allocated,
    CapabilityAnnounced,
    Offboarded,
    Onboarded,
    Released,
    Reservation,
)
from nunet.peers import PeerDown, PeerJoined, PeerUp
from tests.index.strategies import GIB, entries

A, B, C = "did:key:z6MkNodeA", "did:key:z6MkNodeB", "did:key:z6MkNodeC"
MACHINE = Capability(resources=Resources(cpu=8.0, ram=32 * GIB))
FREE = Resources(cpu=8.0, ram=32 * GIB)


def announced(free: Resources = FREE, capability: Capability = MACHINE) -> CapabilityAnnounced:
    return CapabilityAnnounced(capability=capability, free=free)


def down(did: str) -> PeerDown:
    return PeerDown(did=did, missed=2, silent_seconds=1.0)


def fitting(index: CapabilityIndex, requirement: Requirement = Requirement()) -> list[str]:
    return sorted(c.did for c in index.query(requirement, limit=100).candidates)


def test_an_announcement_sets_and_replaces_the_nodes_entry() -> None:
    index = CapabilityIndex()
    assert index.apply(A, announced(), 1)
    bigger = Capability(resources=Resources(cpu=16.0))
    index.apply(A, announced(Resources(cpu=16.0), bigger), 2)
    entry = index.get(A)
    assert entry is not None
    assert (len(index), entry.capability, entry.free, entry.up) == (
        1,
        bigger,
        Resources(cpu=16.0),
        True,
    )


def test_allocations_and_releases_set_what_is_free() -> None:
    index = CapabilityIndex()
    index.apply(A, announced(), 1)
    index.apply(
        A, Allocated(allocation="x", resources=Resources(cpu=6.0), free=Resources(cpu=2.0)), 2
    )
    assert fitting(index, Requirement(cpu=4.0)) == []
    assert index.query(Requirement(cpu=4.0)).excluded == {"cpu": 1}
    index.apply(A, Released(allocation="x", resources=Resources(cpu=6.0), free=FREE), 3)
    assert fitting(index, Requirement(cpu=4.0)) == [A]


def test_an_allocation_before_any_announcement_is_ignored() -> None:
    index = CapabilityIndex()
    index.apply(A, Allocated(allocation="x", resources=Resources(), free=FREE), 1)
    assert len(index) == 0


def test_offboarding_withdraws_the_node_and_its_slot_is_reused() -> None:
    index = CapabilityIndex()
    for at, did in enumerate((A, B), start=1):
        index.apply(did, announced(), at)
    index.apply(A, Offboarded(reason="bye"), 3)
    assert fitting(index) == [B]
    index.apply(C, announced(Resources(cpu=1.0)), 4)
    assert fitting(index) == [B, C]
    assert index.get(A) is None


def test_onboarding_changes_nothing_until_the_announcement_that_follows() -> None:
    index = CapabilityIndex()
    assert index.apply(A, Onboarded(reservation=Reservation(resources=FREE)), 1)
    assert len(index) == 0


def test_a_node_marked_down_by_a_peer_is_left_out_until_it_is_heard_from_again() -> None:
    index = CapabilityIndex()
    index.apply(A, announced(), 1)
    index.apply(B, down(A), 2)
    answer = index.query(Requirement())
    assert (answer.candidates, answer.excluded) == ((), {"down": 1})
    index.apply(C, PeerUp(did=A, down_seconds=3.0), 3)
    assert fitting(index) == [A]
    index.apply(B, down(A), 4)
    index.apply(A, announced(), 5)  # its own announcement: it is up
    assert fitting(index) == [A]


def test_the_latest_word_on_liveness_wins_even_when_it_arrives_first() -> None:
    index = CapabilityIndex()
    index.apply(B, down(A), 10)  # B saw A go down at 10 ...
    index.apply(A, announced(), 5)  # ... after A's announcement at 5 arrived here
    assert index.query(Requirement()).excluded == {"down": 1}


def test_events_the_index_does_not_read_or_about_the_writer_itself_change_nothing() -> None:
    index = CapabilityIndex()
    index.apply(A, announced(), 1)
    joined = PeerJoined(did=B, node="n", addresses={}, heartbeat_seconds=1.0, version="1")
    assert not index.apply(A, joined, 2)
    assert index.apply(A, down(A), 3)  # a node cannot see itself down
    assert fitting(index) == [A]


def test_an_event_without_a_node_or_with_a_bad_timestamp_is_refused() -> None:
    index = CapabilityIndex()
    with pytest.raises(InvalidEvent, match="node DID"):
        index.apply("", announced(), 1)
    with pytest.raises(InvalidEvent, match="timestamp"):
        index.apply(A, announced(), 1.5)  # type: ignore[arg-type]


def test_an_entry_with_values_columns_cannot_hold_is_still_answered_exactly() -> None:
    many = tuple(Gpu(index=i, vendor="nvidia", model="A100", vram=40 * GIB) for i in range(12))
    huge = Resources(cpu=64.0, ram=1 << 62, gpus=many)
    index = CapabilityIndex()
    index.apply(A, announced(huge, Capability(resources=huge)), 1)
    index.apply(B, announced(), 2)
    answer = index.query(Requirement(ram=1 << 61, gpus=(GpuNeed(),) * 10))
    assert [c.did for c in answer.candidates] == [A]
    assert len(answer.candidates[0].gpus) == 10
    assert answer.excluded == {"ram": 1}


def _stream(
    swarm: list[tuple[str, Capability, Resources]], words: list[tuple[int, int, bool]]
) -> dict[str, list[tuple[str, Event, int]]]:
    """Per writer, its events in seq order: announcements, then liveness words about others."""
    per_node: dict[str, list[tuple[str, Event, int]]] = {}
    for at, (did, capability, free) in enumerate(swarm, start=1):
        per_node.setdefault(did, []).append((did, announced(free, capability), at * 10))
    dids = sorted(per_node)
    for at, (writer, about, is_up) in enumerate(words):
        if not dids:
            break
        writer_did, about_did = dids[writer % len(dids)], dids[about % len(dids)]
        event: Event = PeerUp(did=about_did, down_seconds=1.0) if is_up else down(about_did)
        per_node[writer_did].append((writer_did, event, at * 7))
    return per_node


@settings(max_examples=100, deadline=None)
@given(
    swarm=st.lists(entries(), max_size=8),
    words=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.booleans()), max_size=10),
    data=st.data(),
)
def test_any_interleaving_of_the_nodes_logs_gives_the_same_index(
    swarm: list[tuple[str, Capability, Resources]],
    words: list[tuple[int, int, bool]],
    data: st.DataObject,
) -> None:
    per_node = _stream(swarm, words)
    in_node_order = [item for did in sorted(per_node) for item in per_node[did]]
    queues = {did: list(items) for did, items in per_node.items()}
    interleaved = []
    while queues:
        did = data.draw(st.sampled_from(sorted(queues)))
        interleaved.append(queues[did].pop(0))
        if not queues[did]:
            del queues[did]
    first, second = CapabilityIndex(), CapabilityIndex()
    for node, event, at in in_node_order:
        first.apply(node, event, at)
    for node, event, at in interleaved:
        second.apply(node, event, at)
    assert first.snapshot() == second.snapshot()
    assert CapabilityIndex.from_snapshot(first.snapshot()).snapshot() == first.snapshot()
