"""What an orchestrator and the providers running its allocations say to each other.

The two-phase commit: after a bid round the orchestrator sends `Commit` to every chosen
provider (each reserves the resources its bid offered, for `hold_seconds`), then `Allocate`
(the provider creates one allocation actor per allocation, prepared but not started) — or
`Revert` to every one of them when any commit fails. `Start`, `Restart`, `Stop`, `Status` and
`Logs` go to an allocation actor; its state changes and heartbeats come back to the
orchestrator as `Report`s. A provider accepts `Commit` only from the orchestrator it bid to (the
bid's request id) and everything after it only from the orchestrator that committed. `Commit`
carries the contract the orchestrator proposes (`nunet.contracts`); `Committed` returns it
signed by the provider too — a provider that requires contracts commits nothing without one.

Sizes are ints of bytes and times floats of seconds (wall-clock for instants).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nunet.actor import Handle
from nunet.capability.model import Requirement
from nunet.contracts.documents import SignedContract

PROVIDER_ACTOR_ID = "provider"
"""On every node: answers commit, revert and allocate; spawns the allocation actors."""
DEPLOYMENTS_ACTOR_ID = "deployments"
"""On every node: its deployments; answers a provider's claim question about them."""

COMMIT_BEHAVIOR = "/dms/deployment/commit"
REVERT_BEHAVIOR = "/dms/deployment/revert"
ALLOCATE_BEHAVIOR = "/dms/deployment/allocate"
REPORT_BEHAVIOR = "/dms/deployment/report"  # provider -> orchestrator
CLAIM_BEHAVIOR = "/dms/deployment/claim"  # provider -> the orchestrating node's deployments
START_BEHAVIOR = "/dms/allocation/start"
RESTART_BEHAVIOR = "/dms/allocation/restart"
STOP_BEHAVIOR = "/dms/allocation/stop"
STATUS_BEHAVIOR = "/dms/allocation/status"
LOGS_BEHAVIOR = "/dms/allocation/logs"

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9.-]{0,190}$")]
"""An ensemble node's or an allocation's (qualified) name: `web`, `analytics.worker`."""
DeploymentId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Seconds = Annotated[float, msgspec.Meta(ge=0)]


def allocation_actor_id(deployment: str, allocation: str) -> str:
    """The id an allocation's actor has on its provider."""
    return f"alloc/{deployment}/{allocation}"


def reservation_id(deployment: str, node: str) -> str:
    """The id under which a provider's resource ledger holds a committed ensemble node."""
    return f"{deployment}/{node}"


class HealthCheck(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    command: tuple[str, ...]  # run inside the allocation; exit 0 is healthy
    interval: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    retries: Annotated[int, msgspec.Meta(ge=1)] = 3  # failures in a row before unhealthy
    start_period: Seconds = 0.0  # failures before then do not count


class Port(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    private: Annotated[int, msgspec.Meta(ge=1, le=65535)]
    public: Annotated[int, msgspec.Meta(ge=1, le=65535)]


Location = Annotated[str, msgspec.Meta(min_length=1, max_length=2 << 20)]  # inline: up to 1 MiB+
InsidePath = Annotated[str, msgspec.Meta(pattern=r"^/", max_length=4096)]


class InputOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Data fetched into a volume before the allocation starts, mounted read-only at `target`
    (a file for one object, a directory for a prefix ending in `/`)."""

    source: Location
    target: InsidePath
    checksum: str = ""  # algorithm:hex; "": not checked


class OutputOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A directory inside the allocation, on a volume of its own, whose files are uploaded
    under `destination` when the allocation's command ends (and when it failed, if asked)."""

    path: InsidePath
    destination: Location
    on_failure: bool = False


class StoredObject(msgspec.Struct, frozen=True, kw_only=True):
    """One object a transfer moved."""

    location: str
    size: int
    checksum: str = ""  # sha256:<hex> when known


class Published(msgspec.Struct, frozen=True, kw_only=True):
    """What one output of one run uploaded; `error` says why it could not be (nothing, or only
    part, was published then: `objects` lists what was)."""

    path: str
    destination: str
    objects: tuple[StoredObject, ...] = ()
    error: str = ""

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)


class AllocationOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One allocation as its provider is to run it."""

    name: Name
    type: Literal["task", "service"] = "task"
    executor: Literal["docker", "qemu", "firecracker"] = "docker"
    image: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    env: dict[str, str] = {}
    working_dir: str = ""
    cpu: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # cores
    ram: Annotated[int, msgspec.Meta(ge=4 << 20)] = 256 << 20
    disk: Annotated[int, msgspec.Meta(ge=0)] = 0
    gpus: tuple[int, ...] = ()  # device indices on the provider, from its bid
    timeout_seconds: Seconds = 0.0  # the execution's time limit; 0: none
    start_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    health_check: HealthCheck | None = None
    ports: tuple[Port, ...] = ()
    provision: tuple[str, ...] = ()  # shell scripts run before the command, in order
    keys: tuple[str, ...] = ()  # SSH public keys made available in the allocation
    privileged: bool = False
    inputs: tuple[InputOrder, ...] = ()
    outputs: tuple[OutputOrder, ...] = ()


class Commit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Phase one: reserve what `requirement` needs (re-checked against the provider's free
    resources now) for ensemble node `node`, until `hold_seconds` pass without `Allocate`."""

    deployment: DeploymentId
    node: Name
    request_id: str  # the bid round this provider answered with a bid
    requirement: Requirement
    hold_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    orchestrator: Handle  # where reports go
    contract: SignedContract | None = None  # proposed, signed by the orchestrator's node


class Committed(msgspec.Struct, frozen=True, kw_only=True):
    deployment: str
    node: str
    reservation: str
    gpus: tuple[int, ...] = ()  # the devices reserved
    expires_at: float
    contract: SignedContract | None = None  # accepted: signed by both


class Revert(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Undo a commit (or tear down what was allocated): stop and clean every allocation of
    `node` in `deployment`, release its reservation. Idempotent."""

    deployment: DeploymentId
    node: Name
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class Reverted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to `Revert`: `released` is False when nothing was held (already reverted,
    expired, or never committed here)."""

    deployment: str
    node: str
    released: bool
    allocations: tuple[str, ...] = ()  # the allocations stopped and cleaned


class ClaimAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Provider -> the orchestrating node: does `deployment` still hold its node `node` on me?
    Asked by a provider that recovered a commitment after a restart (its machine may have been
    declared lost and the node placed elsewhere, or the deployment may have ended meanwhile)."""

    deployment: DeploymentId
    node: Name


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    claimed: bool
    why: str = ""  # when not claimed: what happened to it


class Allocate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Phase two: create one allocation actor per order (image resolved, not started)."""

    deployment: DeploymentId
    node: Name
    allocations: tuple[AllocationOrder, ...]
    heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 2.0


class Allocated(msgspec.Struct, frozen=True, kw_only=True):
    deployment: str
    node: str
    allocations: dict[str, Handle]  # allocation name -> its actor


class AllocationAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Start, restart, stop or status of one allocation (sent to its actor)."""

    deployment: DeploymentId
    allocation: Name
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class LogsAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    deployment: DeploymentId
    allocation: Name
    since: float | None = None  # wall-clock seconds
    limit: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000


class LogEntry(msgspec.Struct, frozen=True, array_like=True):
    at: float
    stream: str  # stdout | stderr
    text: str


AllocationState = Literal[
    "allocated",  # prepared, not started
    "starting",  # provisioning / start in progress
    "running",
    "exited",  # a task ended with exit code 0... or any code: see exit_code
    "failed",  # could not start, crashed, OOM, timed out, lost its executor
    "stopped",  # stopped on request
    "released",  # cleaned up; its resources are free
]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """Provider -> orchestrator: an allocation's state (on every change) or a heartbeat."""

    kind: Literal["state", "heartbeat"]
    deployment: str
    node: str
    allocation: str
    state: AllocationState
    seq: int  # per allocation actor, increasing: a late report never overrides a newer one
    at: float
    run: int = 0  # how many times it has been started (restarts count)
    exit_code: int | None = None
    error: str = ""
    healthy: bool | None = None  # None: no health check, or not yet known
    cpu_seconds: float = 0.0
    memory_peak: int = 0
    wall_seconds: float = 0.0
    outputs: tuple[Published, ...] = ()  # once the run ended: what its outputs published
