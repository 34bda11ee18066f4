"""Events an orchestrator appends to its node's log: every step of every deployment.

Each carries the deployment's id and `at`, the wall-clock second it happened, so the
deployment's state and history are a pure fold of these events (`DeploymentState.replay`).
Which lifecycle input each one is, if any, is `nunet.orchestrator.state.lifecycle_input`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nunet.actor import Handle
from nunet.allocation.protocol import Published
from nunet.eventlog import Event


class DeploymentEvent(Event, frozen=True, kw_only=True):
    """Base of the deployment events (it has no TYPE and is never appended itself)."""

    deployment: str
    at: float  # wall-clock seconds


class DeploymentSubmitted(DeploymentEvent, frozen=True, kw_only=True):
    """A deployment was accepted. `ensemble` is the normalised native document
    (`nunet.ensemble.dump_ensemble`); `nodes` and `allocations` are its flattened view:
    node -> its (qualified) allocation names, allocation -> `task` or `service`."""

    TYPE: ClassVar[str] = "deployment.submitted"
    ensemble_name: str
    ensemble: dict[str, Any]
    requester: str  # the DID that asked for it
    nodes: dict[str, list[str]]
    allocations: dict[str, str]
    queue_timeout: float = 0.0  # seconds it may wait for machines; 0: for ever
    source: str = ""  # where the document came from (a file name, "<request>")


class MatchingStarted(DeploymentEvent, frozen=True, kw_only=True):
    """A bid round was broadcast for `nodes` (every node, or the lost ones when rescheduling)."""

    TYPE: ClassVar[str] = "deployment.matching"
    request_id: str
    attempt: int
    nodes: list[str]


class DeploymentQueued(DeploymentEvent, frozen=True, kw_only=True):
    """Nothing fit; the orchestrator asks again in `retry_in` seconds."""

    TYPE: ClassVar[str] = "deployment.queued"
    why: str
    retry_in: float
    attempt: int = 0


class DeploymentExpired(DeploymentEvent, frozen=True, kw_only=True):
    """It waited for machines longer than its queue timeout."""

    TYPE: ClassVar[str] = "deployment.expired"
    why: str


class NodesMatched(DeploymentEvent, frozen=True, kw_only=True):
    """Every ensemble node has a machine: node -> the bidder's DID, and standbys kept for it."""

    TYPE: ClassVar[str] = "deployment.matched"
    primary: dict[str, str]
    standby: dict[str, list[str]] = {}
    score: float = 0.0
    request_id: str = ""


class NodeCommitted(DeploymentEvent, frozen=True, kw_only=True):
    """A machine reserved a node's resources (phase one). `standby`: for failover only."""

    TYPE: ClassVar[str] = "deployment.committed"
    node: str
    provider: str  # DID
    reservation: str
    expires_at: float = 0.0
    gpus: list[int] = []
    standby: bool = False


class CommitFailed(DeploymentEvent, frozen=True, kw_only=True):
    """A machine refused a node's commit, or did not answer it in time."""

    TYPE: ClassVar[str] = "deployment.commit_failed"
    node: str
    provider: str
    reason: str
    standby: bool = False


class NodeReverted(DeploymentEvent, frozen=True, kw_only=True):
    """A machine was told to undo a node's commit (or to tear down what it allocated)."""

    TYPE: ClassVar[str] = "deployment.reverted"
    node: str
    provider: str
    reason: str = ""


class NodeAllocated(DeploymentEvent, frozen=True, kw_only=True):
    """A machine created a node's allocations (phase two): allocation -> its actor."""

    TYPE: ClassVar[str] = "deployment.allocated"
    node: str
    provider: str
    allocations: dict[str, Handle]


class AllocationStateChanged(DeploymentEvent, frozen=True, kw_only=True):
    """A provider reported an allocation's new state (`AllocationState`)."""

    TYPE: ClassVar[str] = "deployment.allocation_state"
    node: str
    allocation: str
    state: str  # allocated | starting | running | exited | failed | stopped | released
    run: int = 0
    exit_code: int | None = None
    error: str = ""
    healthy: bool | None = None


class AllocationsRestarted(DeploymentEvent, frozen=True, kw_only=True):
    """A supervisor restarted `allocations` (one, or a subtree) under its strategy."""

    TYPE: ClassVar[str] = "deployment.restarted"
    supervisor: str  # the supervisor's path in the tree, "" for the root
    allocations: list[str]
    strategy: str
    why: str


class SupervisorEscalated(DeploymentEvent, frozen=True, kw_only=True):
    """A supervisor exceeded its restart intensity and failed to its parent (at the root the
    deployment fails: `DeploymentFailed` follows)."""

    TYPE: ClassVar[str] = "deployment.escalated"
    supervisor: str
    why: str


class NodeLost(DeploymentEvent, frozen=True, kw_only=True):
    """A machine holding a node went away (missed heartbeats, or it said so)."""

    TYPE: ClassVar[str] = "deployment.node_lost"
    node: str
    provider: str
    why: str


class NodeRescheduled(DeploymentEvent, frozen=True, kw_only=True):
    """A lost node is placed on another machine (a standby promoted, or a new bid)."""

    TYPE: ClassVar[str] = "deployment.rescheduled"
    node: str
    old_provider: str
    new_provider: str
    from_standby: bool = False


class DeploymentRunning(DeploymentEvent, frozen=True, kw_only=True):
    """Every allocation is up (services healthy where they have a health check)."""

    TYPE: ClassVar[str] = "deployment.running"


class TasksDone(DeploymentEvent, frozen=True, kw_only=True):
    """A deployment without services has every task finished; results are being collected."""

    TYPE: ClassVar[str] = "deployment.tasks_done"


class AllocationResult(DeploymentEvent, frozen=True, kw_only=True):
    """What one allocation left when it ended."""

    TYPE: ClassVar[str] = "deployment.result"
    node: str
    allocation: str
    state: str  # exited | failed | stopped
    exit_code: int | None = None
    error: str = ""
    log_lines: int = 0  # lines kept
    run: int = 0
    cpu_seconds: float = 0.0
    memory_peak: int = 0
    wall_seconds: float = 0.0


class OutputsPublished(DeploymentEvent, frozen=True, kw_only=True):
    """What run `run` of an allocation uploaded when it ended: each output's objects with their
    sizes and checksums, or why it could not be published."""

    TYPE: ClassVar[str] = "deployment.outputs_published"
    node: str
    allocation: str
    run: int = 0
    outputs: tuple[Published, ...] = ()


class DeploymentCompleted(DeploymentEvent, frozen=True, kw_only=True):
    """Every task finished, results are recorded and every machine released."""

    TYPE: ClassVar[str] = "deployment.completed"


class DeploymentFailed(DeploymentEvent, frozen=True, kw_only=True):
    """The deployment failed beyond recovery; `why` says what gave up."""

    TYPE: ClassVar[str] = "deployment.failed"
    why: str


class ShutdownRequested(DeploymentEvent, frozen=True, kw_only=True):
    """Someone asked for the deployment to be torn down."""

    TYPE: ClassVar[str] = "deployment.shutdown_requested"
    by: str = ""  # the DID that asked
    reason: str = ""


class DeploymentTornDown(DeploymentEvent, frozen=True, kw_only=True):
    """Every machine released what it held for this deployment."""

    TYPE: ClassVar[str] = "deployment.torn_down"


EVENTS: tuple[type[Event], ...] = (
    DeploymentSubmitted,
    MatchingStarted,
    DeploymentQueued,
    DeploymentExpired,
    NodesMatched,
    NodeCommitted,
    CommitFailed,
    NodeReverted,
    NodeAllocated,
    AllocationStateChanged,
    AllocationsRestarted,
    SupervisorEscalated,
    NodeLost,
    NodeRescheduled,
    DeploymentRunning,
    TasksDone,
    OutputsPublished,
    AllocationResult,
    DeploymentCompleted,
    DeploymentFailed,
    ShutdownRequested,
    DeploymentTornDown,
)
