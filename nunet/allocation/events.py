"""Events the provider side of deployment appends to the node's log.

Commitments and allocations are rebuilt from these at node start (`nunet.allocation.recovery`):
they are the provider's persistence. Each names its deployment and ensemble node; the ones
about one allocation name it too.
"""

from __future__ import annotations

from typing import ClassVar

from nunet.allocation.protocol import AllocationOrder, StoredObject
from nunet.capability.model import Requirement
from nunet.eventlog import Event


class AllocationCommitted(Event, frozen=True, kw_only=True):
    """Phase one accepted: `reservation` holds the resources until `expires_at` without Allocate."""

    TYPE: ClassVar[str] = "allocation.committed"
    deployment: str
    node: str
    request_id: str
    orchestrator: str  # DID
    orchestrator_actor: str  # where reports go: actor id ...
    orchestrator_node: str  # ... on this transport address
    reservation: str
    requirement: Requirement
    cpu: float
    ram: int
    disk: int
    gpus: tuple[int, ...] = ()
    hold_seconds: float
    expires_at: float


class CommitRefused(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "allocation.commit_refused"
    deployment: str
    node: str
    request_id: str
    sender: str  # DID
    code: str
    reason: str


class ReservationExpired(Event, frozen=True, kw_only=True):
    """No Allocate came within the hold: the reservation was released."""

    TYPE: ClassVar[str] = "allocation.reservation_expired"
    deployment: str
    node: str
    reservation: str
    hold_seconds: float


class AllocationReverted(Event, frozen=True, kw_only=True):
    """Every allocation of the node stopped and cleaned, its reservation released."""

    TYPE: ClassVar[str] = "allocation.reverted"
    deployment: str
    node: str
    reason: str = ""
    allocations: tuple[str, ...] = ()


class AllocationCreated(Event, frozen=True, kw_only=True):
    """Phase two: an allocation actor exists for `order` (its execution prepared)."""

    TYPE: ClassVar[str] = "allocation.created"
    deployment: str
    node: str
    allocation: str
    actor: str
    order: AllocationOrder
    heartbeat_seconds: float


class AllocationStateChanged(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "allocation.state"
    deployment: str
    node: str
    allocation: str
    state: str
    run: int = 0
    execution: str = ""
    exit_code: int | None = None
    error: str = ""
    healthy: bool | None = None
    # The run's usage as last read from the executor (final once the run ended): what the
    # provider's contract meters.
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


class ProviderRefused(Event, frozen=True, kw_only=True):
    """Anything but a commit refused: allocate, revert, or an ask to an allocation actor."""

    TYPE: ClassVar[str] = "allocation.refused"
    operation: str  # allocate | revert | start | restart | stop | status | logs
    deployment: str
    node: str
    allocation: str = ""
    sender: str  # DID
    code: str
    reason: str


class AllocationRecovered(Event, frozen=True, kw_only=True):
    """At node start: an allocation rebuilt from the log, and what became of its execution."""

    TYPE: ClassVar[str] = "allocation.recovered"
    deployment: str
    node: str
    allocation: str
    action: str  # adopted | prepared | kept | lost
    state: str


class InputFetched(Event, frozen=True, kw_only=True):
    """Input `index` of an allocation is on its volume, verified and locked read-only."""

    TYPE: ClassVar[str] = "allocation.input_fetched"
    deployment: str
    node: str
    allocation: str
    index: int
    source: str
    target: str  # where the allocation sees it
    objects: tuple[StoredObject, ...] = ()  # the first 100
    count: int = 0  # objects in all
    size: int = 0  # bytes in all


class OutputPublished(Event, frozen=True, kw_only=True):
    """Output `index` of run `run` uploaded: every object with its size and checksum."""

    TYPE: ClassVar[str] = "allocation.output_published"
    deployment: str
    node: str
    allocation: str
    run: int
    index: int
    path: str  # inside the allocation
    destination: str
    objects: tuple[StoredObject, ...] = ()  # the first 100
    count: int = 0
    size: int = 0


class TransferFailed(Event, frozen=True, kw_only=True):
    """One attempt to fetch an input or upload an output failed; `retrying` says whether
    another follows."""

    TYPE: ClassVar[str] = "allocation.transfer_failed"
    deployment: str
    node: str
    allocation: str
    direction: str  # input | output
    index: int
    location: str
    attempt: int
    retrying: bool
    code: str
    reason: str


EVENTS: tuple[type[Event], ...] = (
    AllocationCommitted,
    CommitRefused,
    ReservationExpired,
    AllocationReverted,
    AllocationCreated,
    AllocationStateChanged,
    ProviderRefused,
    AllocationRecovered,
    InputFetched,
    OutputPublished,
    TransferFailed,
)
