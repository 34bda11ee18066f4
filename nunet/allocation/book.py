"""The provider's commitments as a fold of its own events: what it has committed to whom, what it
allocated for it, and the last state of each allocation. No I/O: `apply` takes the events the
provider appends, so replaying the node's log at start rebuilds the book exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nunet.actor import Handle
from nunet.allocation.events import (
    AllocationCommitted,
    AllocationCreated,
    AllocationReverted,
    AllocationStateChanged,
    ReservationExpired,
)
from nunet.allocation.protocol import AllocationOrder
from nunet.capability.model import Requirement
from nunet.eventlog import Event

Key = tuple[str, str]  # (deployment, ensemble node)

BOOK_EVENTS: tuple[type[Event], ...] = (
    AllocationCommitted,
    ReservationExpired,
    AllocationReverted,
    AllocationCreated,
    AllocationStateChanged,
)
"""The event types `CommitmentBook.apply` folds (what a replay reads from the log)."""


@dataclass
class Commitment:
    """One committed ensemble node on this provider."""

    deployment: str
    node: str
    request_id: str
    orchestrator: Handle
    reservation: str
    requirement: Requirement
    cpu: float
    ram: int
    disk: int
    gpus: tuple[int, ...]
    hold_seconds: float
    expires_at: float
    orders: dict[str, AllocationOrder] = field(default_factory=dict)  # allocation -> its order
    heartbeat_seconds: float = 2.0
    states: dict[str, AllocationStateChanged] = field(default_factory=dict)  # the last of each

    @property
    def key(self) -> Key:
        return (self.deployment, self.node)

    @property
    def allocated(self) -> bool:
        return bool(self.orders)

    def committed_event(self) -> AllocationCommitted:
        return AllocationCommitted(
            deployment=self.deployment,
            node=self.node,
            request_id=self.request_id,
            orchestrator=self.orchestrator.did,
            orchestrator_actor=self.orchestrator.actor,
            orchestrator_node=self.orchestrator.node,
            reservation=self.reservation,
            requirement=self.requirement,
            cpu=self.cpu,
            ram=self.ram,
            disk=self.disk,
            gpus=self.gpus,
            hold_seconds=self.hold_seconds,
            expires_at=self.expires_at,
        )


class CommitmentBook:
    """Live commitments by (deployment, node), and who committed the ones that ended (a revert
    of an ended one is answered to its orchestrator alone)."""

    def __init__(self) -> None:
        self.live: dict[Key, Commitment] = {}
        self.ended: dict[Key, str] = {}  # -> the orchestrator's DID
        self.reservations: set[str] = set()  # every reservation id this provider ever made

    def committer(self, key: Key) -> str | None:
        """The DID that committed `key` (live or ended), None if no one did."""
        live = self.live.get(key)
        return live.orchestrator.did if live is not None else self.ended.get(key)

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Fold one of the book's events; others are ignored. Trusts the log (no re-checks)."""
        match event:
            case AllocationCommitted():
                key = (event.deployment, event.node)
                earlier = self.live.get(key)
                commitment = Commitment(
                    deployment=event.deployment,
                    node=event.node,
                    request_id=event.request_id,
                    orchestrator=Handle(
                        event.orchestrator, event.orchestrator_actor, event.orchestrator_node
                    ),
                    reservation=event.reservation,
                    requirement=event.requirement,
                    cpu=event.cpu,
                    ram=event.ram,
                    disk=event.disk,
                    gpus=event.gpus,
                    hold_seconds=event.hold_seconds,
                    expires_at=event.expires_at,
                )
                if earlier is not None:  # the same orchestrator again (a new handle, say)
                    commitment.orders = earlier.orders
                    commitment.heartbeat_seconds = earlier.heartbeat_seconds
                    commitment.states = earlier.states
                self.live[key] = commitment
                self.ended.pop(key, None)
                self.reservations.add(event.reservation)
            case ReservationExpired() | AllocationReverted():
                key = (event.deployment, event.node)
                ended = self.live.pop(key, None)
                if ended is not None:
                    self.ended[key] = ended.orchestrator.did
            case AllocationCreated():
                created = self.live.get((event.deployment, event.node))
                if created is not None:
                    created.orders[event.allocation] = event.order
                    created.heartbeat_seconds = event.heartbeat_seconds
            case AllocationStateChanged():
                changed = self.live.get((event.deployment, event.node))
                if changed is not None:
                    changed.states[event.allocation] = event
            case _:
                pass
