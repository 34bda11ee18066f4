"""The commitment book: folding the provider's events rebuilds exactly what it committed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nunet.actor import Handle
from nunet.allocation import (
    AllocationCommitted,
    AllocationCreated,
    AllocationOrder,
    AllocationReverted,
    AllocationStateChanged,
    CommitmentBook,
    ReservationExpired,
)
from nunet.capability.model import Requirement
from nunet.eventlog import Event

ORCH = Handle("did:key:orch", "orchestrator/d1", "did:key:orch")


def committed(deployment: str = "d1", node: str = "n1", **fields: object) -> AllocationCommitted:
    values: dict[str, object] = {
        "deployment": deployment,
        "node": node,
        "request_id": "r" * 16,
        "orchestrator": ORCH.did,
        "orchestrator_actor": ORCH.actor,
        "orchestrator_node": ORCH.node,
        "reservation": f"{deployment}/{node}",
        "requirement": Requirement(cpu=1),
        "cpu": 1.0,
        "ram": 1 << 20,
        "disk": 0,
        "gpus": (0,),
        "hold_seconds": 60.0,
        "expires_at": 1000.0,
    }
    return AllocationCommitted(**(values | fields))  # type: ignore[arg-type]


def created(allocation: str = "web") -> AllocationCreated:
    return AllocationCreated(
        deployment="d1",
        node="n1",
        allocation=allocation,
        actor=f"alloc/d1/{allocation}",
        order=AllocationOrder(name=allocation, image="busybox:1"),
        heartbeat_seconds=0.5,
    )


def state(value: str, allocation: str = "web") -> AllocationStateChanged:
    return AllocationStateChanged(
        deployment="d1", node="n1", allocation=allocation, state=value, run=1, execution="e"
    )


def test_a_commitment_with_its_allocations_and_their_last_states() -> None:
    book = CommitmentBook()
    book.apply_all([committed(), state("allocated"), created(), state("running")])
    commitment = book.live[("d1", "n1")]
    assert commitment.orchestrator == ORCH
    assert commitment.allocated
    assert set(commitment.orders) == {"web"}
    assert commitment.heartbeat_seconds == 0.5
    assert commitment.states["web"].state == "running"
    assert commitment.committed_event() == committed()
    assert book.committer(("d1", "n1")) == ORCH.did


def test_a_recommit_takes_the_new_handle_and_keeps_what_was_allocated() -> None:
    book = CommitmentBook()
    book.apply_all([committed(), created(), committed(orchestrator_node="elsewhere")])
    commitment = book.live[("d1", "n1")]
    assert commitment.orchestrator.node == "elsewhere"
    assert set(commitment.orders) == {"web"}


def test_revert_and_expiry_end_a_commitment_but_remember_who_made_it() -> None:
    book = CommitmentBook()
    book.apply_all(
        [
            committed(),
            committed(deployment="d2"),
            AllocationReverted(deployment="d1", node="n1"),
            ReservationExpired(deployment="d2", node="n1", reservation="d2/n1", hold_seconds=1),
        ]
    )
    assert book.live == {}
    assert book.ended == {("d1", "n1"): ORCH.did, ("d2", "n1"): ORCH.did}
    assert book.reservations == {"d1/n1", "d2/n1"}
    book.apply(committed())  # committed again: live, not ended
    assert ("d1", "n1") in book.live
    assert ("d1", "n1") not in book.ended


def test_events_of_unknown_commitments_and_other_types_are_ignored() -> None:
    book = CommitmentBook()
    book.apply_all([created(), state("running"), AllocationReverted(deployment="x", node="y")])
    assert book.live == {}
    assert book.ended == {}
    assert book.committer(("d1", "n1")) is None


EVENTS: list[Event] = [
    committed(),
    created(),
    state("running"),
    committed(orchestrator_node="b"),
    AllocationReverted(deployment="d1", node="n1"),
]


@given(st.integers(min_value=0, max_value=len(EVENTS)))
def test_replaying_a_prefix_twice_gives_the_same_book(cut: int) -> None:
    one, two = CommitmentBook(), CommitmentBook()
    one.apply_all(EVENTS[:cut])
    two.apply_all(EVENTS[:cut])
    assert one.live == two.live
    assert one.ended == two.ended
