"""The ensemble model: one job definition, whichever dialect it was written in.

Every unit is resolved: sizes are ints of bytes, bandwidths ints of bits per second, durations
floats of seconds; every default is filled in (a service's restart policy, an allocation's DNS
name, the default supervisor tree), so two documents that mean the same thing load into equal
values. Structs are frozen; they are built only by the reader (`load_ensemble`), which
validates every field, or by code that knows what it does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from nunet.capability.model import GpuNeed, LocationRule, Price, Requirement
from nunet.executor.spec import ExecutionSpec, Limits

MIB = 1 << 20
DEFAULT_RAM = 256 * MIB
EXECUTORS = ("docker", "firecracker", "qemu")
T = TypeVar("T")


class AllocationType(enum.StrEnum):
    TASK = "task"  # runs to completion
    SERVICE = "service"  # runs until the ensemble is shut down


class Restart(enum.StrEnum):
    NEVER = "never"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"  # services only: a task that always restarts never completes


class Strategy(enum.StrEnum):
    ONE_FOR_ONE = "one-for-one"  # restart only the child that failed
    ALL_FOR_ONE = "all-for-one"  # restart every child of the supervisor
    REST_FOR_ONE = "rest-for-one"  # restart the failed child and those after it


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """What runs: an OCI image and how to start it. `entrypoint` empty: the image's own."""

    image: str
    command: tuple[str, ...] = ()  # a one-string command was turned into ("sh", "-c", text)
    entrypoint: tuple[str, ...] = ()
    env: dict[str, str] = {}
    working_dir: str = ""  # "": the image's own


class HealthCheck(msgspec.Struct, frozen=True, kw_only=True):
    """A command run inside a service; exit status 0 is healthy."""

    exec: tuple[str, ...]
    interval: float = 10.0
    timeout: float = 5.0
    retries: int = 3  # unhealthy after this many failures in a row
    start_period: float = 0.0  # failures before then do not count


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    start: float = 120.0  # from allocate to running
    run: float = 0.0  # execution time limit; 0: none


class DataInput(msgspec.Struct, frozen=True, kw_only=True):
    """Data fetched before the allocation starts (the storage layer reads `source`)."""

    source: str
    target: str  # absolute, inside the allocation
    checksum: str = ""  # algorithm:hex, e.g. sha256:...; "": not checked


class DataOutput(msgspec.Struct, frozen=True, kw_only=True):
    """A path whose content is uploaded when the allocation ends."""

    path: str  # absolute, inside the allocation
    destination: str
    on_failure: bool = False  # also upload when the allocation failed


class AllocationResources(msgspec.Struct, frozen=True, kw_only=True):
    cpu: float = 1.0  # cores
    ram: int = DEFAULT_RAM
    disk: int = 0
    gpus: tuple[GpuNeed, ...] = ()


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    """One unit of work: a container or microVM on one machine."""

    execution: Execution
    type: AllocationType = AllocationType.TASK
    executor: str = "docker"  # one of EXECUTORS
    resources: AllocationResources = AllocationResources()
    inputs: tuple[DataInput, ...] = ()
    outputs: tuple[DataOutput, ...] = ()
    healthcheck: HealthCheck | None = None  # services only
    dns_name: str = ""  # the reader fills in the allocation's name
    keys: tuple[str, ...] = ()  # SSH public keys to install
    provision: tuple[str, ...] = ()  # shell scripts run before the command, in order
    restart: Restart = Restart.NEVER  # the reader fills in `always` for services
    timeouts: Timeouts = Timeouts()
    depends_on: tuple[str, ...] = ()  # allocations running (services: healthy) before this starts
    privileged: bool = False

    def requirement(self) -> Requirement:
        """What a machine must offer to host this allocation alone."""
        return Requirement(
            cpu=self.resources.cpu,
            ram=self.resources.ram,
            disk=self.resources.disk,
            gpus=self.resources.gpus,
            executors=(self.executor,),
        )

    def spec(self, execution_id: str) -> ExecutionSpec:
        """The executor's view of this allocation (inputs, outputs, ports and GPUs are bound by
        the node that runs it)."""
        return ExecutionSpec(
            id=execution_id,
            image=self.execution.image,
            command=self.execution.command,
            entrypoint=self.execution.entrypoint or None,
            env=dict(self.execution.env),
            working_dir=self.execution.working_dir,
            limits=Limits(
                cpu=self.resources.cpu,
                memory=self.resources.ram,
                disk=self.resources.disk,
                timeout_seconds=self.timeouts.run,
            ),
            privileged=self.privileged,
            health_check=self.healthcheck.exec if self.healthcheck is not None else (),
        )


class PortMap(msgspec.Struct, frozen=True, kw_only=True):
    """A port of an allocation published on its machine's public address."""

    public: int
    private: int
    allocation: str


class NodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One machine of the ensemble and the allocations it hosts."""

    allocations: tuple[str, ...]
    ports: tuple[PortMap, ...] = ()
    accept_locations: tuple[LocationRule, ...] = ()  # empty: anywhere not rejected
    reject_locations: tuple[LocationRule, ...] = ()
    peer: str = ""  # pin the node to this peer's DID; "": any
    redundancy: int = 0  # standby machines kept reserved for failover
    require: Requirement = Requirement()  # extra constraints beyond the allocations' sum

    def requirement(self, allocations: Mapping[str, Allocation]) -> Requirement:
        """What one machine must offer: the sum of this node's allocations (looked up by name
        in `allocations`), its location and peer, its published ports and `require`."""
        hosted = [allocations[name] for name in self.allocations]
        extra = self.require
        executors = _unique((*(a.executor for a in hosted), *extra.executors))
        return msgspec.structs.replace(
            extra,
            cpu=max(sum(a.resources.cpu for a in hosted), extra.cpu),
            ram=max(sum(a.resources.ram for a in hosted), extra.ram),
            disk=max(sum(a.resources.disk for a in hosted), extra.disk),
            gpus=tuple(g for a in hosted for g in a.resources.gpus) or extra.gpus,
            executors=executors,
            public_ports=max(len(self.ports), extra.public_ports),
            accept_locations=_unique((*self.accept_locations, *extra.accept_locations)),
            reject_locations=_unique((*self.reject_locations, *extra.reject_locations)),
            accept_peers=_unique(((self.peer,) if self.peer else ()) + extra.accept_peers),
        )


class Edge(msgspec.Struct, frozen=True, kw_only=True):
    """A network constraint between two nodes of the ensemble."""

    between: tuple[str, str]
    rtt: float = 0.0  # at most, seconds; 0: no constraint
    bandwidth: int = 0  # at least, bits per second; 0: no constraint


class Intensity(msgspec.Struct, frozen=True, kw_only=True):
    """More than `restarts` restarts within `period` seconds: give up and escalate."""

    restarts: int = 3
    period: float = 60.0


class Child(msgspec.Struct, frozen=True, kw_only=True):
    """One child of a supervisor: an allocation, a nested supervisor or a sub-ensemble."""

    allocation: str = ""
    supervisor: SupervisorSpec | None = None
    ensemble: str = ""

    @property
    def kind(self) -> str:
        if self.supervisor is not None:
            return "supervisor"
        return "ensemble" if self.ensemble else "allocation"


class SupervisorSpec(msgspec.Struct, frozen=True, kw_only=True):
    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: Intensity = Intensity()
    children: tuple[Child, ...] = ()  # ordered: rest-for-one and the start order use it


class ContractTerms(msgspec.Struct, frozen=True, kw_only=True):
    """Payment terms offered to providers; checked now, enforced by the tokenomics layer."""

    currency: str = "NTX"
    max_price: Price | None = None  # per hour, as nunet.capability prices are
    budget: float | None = None  # total cap, in `currency`
    payment_interval: float | None = None  # seconds
    grace_period: float | None = None  # seconds
    termination_notice: float | None = None  # seconds


class Ensemble(msgspec.Struct, frozen=True, kw_only=True):
    """A whole job: allocations placed on nodes, edges between nodes, a supervisor tree and
    nested sub-ensembles (see `flatten` for the one-level view the orchestrator uses)."""

    allocations: dict[str, Allocation]
    nodes: dict[str, NodeSpec]
    name: str = "ensemble"
    labels: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    edges: tuple[Edge, ...] = ()
    supervisor: SupervisorSpec = SupervisorSpec()
    ensembles: dict[str, Ensemble] = {}
    contract: ContractTerms | None = None


def _unique(items: tuple[T, ...]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))
