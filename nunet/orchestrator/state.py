"""A deployment's state as a pure fold of its events, and every deployment's state by id.

`DeploymentState.apply(event)` gives the state after one more event; `replay(events)` folds a
whole stream, so the state an orchestrator keeps live equals the one rebuilt from its log.

Events come in two kinds (`lifecycle_input` says which input each is):

- decisions the orchestrator made (a bid round started, nodes matched, a node declared lost,
  running, tasks done, completed, failed, shutdown requested, expired): each is one lifecycle
  input, and one the lifecycle does not accept raises `IllegalTransition` — the orchestrator
  applies an event before appending it, so a log never holds an illegal decision;
- facts other machines reported (a commit, a failed commit, an allocation, a report, the
  teardown): they always update the views; they move the lifecycle only when they complete
  what it waits for (the last primary node committed: `COMMITTED`; the last node allocated:
  `ALLOCATED`) and the lifecycle accepts it. A report its allocation's table refuses (a late or
  reordered one) changes nothing and is kept in `anomalies`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from nunet.actor import Handle
from nunet.eventlog import Event
from nunet.orchestrator.allocation_view import (
    AllocationInput,
    AllocationPhase,
    next_allocation_state,
)
from nunet.orchestrator.events import (
    AllocationResult,
    AllocationsRestarted,
    AllocationStateChanged,
    CommitFailed,
    DeploymentCompleted,
    DeploymentEvent,
    DeploymentExpired,
    DeploymentFailed,
    DeploymentQueued,
    DeploymentRunning,
    DeploymentSubmitted,
    DeploymentTornDown,
    MatchingStarted,
    NodeAllocated,
    NodeCommitted,
    NodeLost,
    NodeRescheduled,
    NodeReverted,
    NodesMatched,
    OutputsPublished,
    ShutdownRequested,
    SupervisorEscalated,
    TasksDone,
)
from nunet.orchestrator.history import HistoryEntry, summary
from nunet.orchestrator.lifecycle import (
    Input,
    LifecycleError,
    Phase,
    accepts,
    next_state,
)

_View = TypeVar("_View", bound=msgspec.Struct)
_PLACED = frozenset(
    {
        AllocationPhase.COMMITTED,
        AllocationPhase.ALLOCATED,
        AllocationPhase.STARTING,
        AllocationPhase.RUNNING,
        AllocationPhase.EXITED,
        AllocationPhase.FAILED,
        AllocationPhase.STOPPED,
    }
)
_LOST = frozenset({AllocationPhase.LOST})
_RESERVED = frozenset({AllocationPhase.COMMITTED, AllocationPhase.ALLOCATED})


class NodeView(msgspec.Struct, frozen=True, kw_only=True):
    """An ensemble node: the machine holding it and how far its placement got."""

    allocations: tuple[str, ...]
    provider: str = ""  # the primary machine's DID; "" until matched
    reservation: str = ""
    committed: bool = False
    allocated: bool = False
    lost: bool = False
    standby: tuple[str, ...] = ()  # DIDs kept for failover, best first
    standby_reservations: dict[str, str] = {}  # standby DID -> its reservation
    error: str = ""  # the last commit failure or loss


class AllocationView(msgspec.Struct, frozen=True, kw_only=True):
    node: str
    type: str  # task | service
    state: AllocationPhase = AllocationPhase.PENDING
    run: int = 0  # times started, as its provider counts
    restarts: int = 0  # restarts its supervisor decided
    exit_code: int | None = None
    error: str = ""
    healthy: bool | None = None
    handle: Handle | None = None


class DeploymentState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one deployment. Build it with `submitted` or `replay`."""

    id: str
    phase: Phase = Phase.SUBMITTED
    ensemble_name: str = ""
    ensemble: dict[str, Any] = {}
    requester: str = ""
    source: str = ""
    queue_timeout: float = 0.0
    submitted_at: float = 0.0
    updated_at: float = 0.0
    nodes: dict[str, NodeView] = {}
    allocations: dict[str, AllocationView] = {}
    attempts: int = 0  # bid rounds
    retry_in: float = 0.0  # when queued
    why: str = ""  # why it is queued, expired or failed
    torn_down: bool = False
    results: dict[str, AllocationResult] = {}
    published: dict[str, OutputsPublished] = {}  # allocation -> what its last run published
    history: tuple[HistoryEntry, ...] = ()
    anomalies: tuple[str, ...] = ()

    @classmethod
    def submitted(cls, event: DeploymentSubmitted) -> DeploymentState:
        unknown = sorted(
            {name for names in event.nodes.values() for name in names} - set(event.allocations)
        )
        if unknown:
            raise LifecycleError(
                f"deployment {event.deployment}: nodes name allocations with no type: "
                f"{', '.join(unknown)}"
            )
        return cls(
            id=event.deployment,
            ensemble_name=event.ensemble_name,
            ensemble=event.ensemble,
            requester=event.requester,
            source=event.source,
            queue_timeout=event.queue_timeout,
            submitted_at=event.at,
            updated_at=event.at,
            nodes={node: NodeView(allocations=tuple(names)) for node, names in event.nodes.items()},
            allocations={
                name: AllocationView(node=node, type=event.allocations[name])
                for node, names in event.nodes.items()
                for name in names
            },
            history=(HistoryEntry(event.at, event.TYPE, summary(event)),),
        )

    @classmethod
    def replay(cls, events: Iterable[DeploymentEvent]) -> DeploymentState:
        """The state after every event of one deployment, the first being its submission."""
        stream = iter(events)
        first = next(stream, None)
        if not isinstance(first, DeploymentSubmitted):
            raise LifecycleError(
                "a deployment's events start with deployment.submitted, not "
                + ("nothing" if first is None else first.TYPE)
            )
        state = cls.submitted(first)
        for event in stream:
            state = state.apply(event)
        return state

    # --- questions the orchestrator asks ---

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(name for name, view in self.allocations.items() if view.type == "service")

    def all_committed(self) -> bool:
        return all(node.provider and node.committed for node in self.nodes.values())

    def all_allocated(self) -> bool:
        return all(node.provider and node.allocated for node in self.nodes.values())

    def provider_of(self, node: str) -> str:
        return self.nodes[node].provider

    # --- the fold ---

    def apply(self, event: DeploymentEvent) -> DeploymentState:
        """The state after `event` (IllegalTransition for a decision the lifecycle refuses)."""
        if event.deployment != self.id:
            raise LifecycleError(
                f"event {event.TYPE} is for deployment {event.deployment}, not {self.id}"
            )
        if isinstance(event, DeploymentSubmitted):
            raise LifecycleError(f"deployment {self.id} was already submitted")
        fold = _Fold(self)
        fold.take(event)
        return msgspec.structs.replace(
            fold.state,
            updated_at=max(self.updated_at, event.at),
            history=(*self.history, HistoryEntry(event.at, event.TYPE, summary(event))),
        )


def lifecycle_input(event: DeploymentEvent) -> Input | None:
    """The lifecycle input a decision event is; None for a reported fact (see `_fact_input`)."""
    match event:
        case MatchingStarted():
            return Input.SEARCH_STARTED
        case DeploymentQueued():
            return Input.SEARCHED_NOTHING
        case DeploymentExpired():
            return Input.QUEUE_TIMEOUT
        case NodesMatched():
            return Input.BIDS_FOUND
        case NodeLost():
            return Input.NODE_LOST
        case DeploymentRunning():
            return Input.ALL_RUNNING
        case TasksDone():
            return Input.ALL_TASKS_DONE
        case DeploymentCompleted():
            return Input.FINISHED
        case DeploymentFailed():
            return Input.FAILURE
        case ShutdownRequested():
            return Input.SHUTDOWN_REQUESTED
        case _:
            return None


def _fact_input(before: DeploymentState, after: DeploymentState, event: Event) -> Input | None:
    """The input a reported fact completes, if the lifecycle is waiting for it."""
    candidate: Input | None = None
    match event:
        case NodeCommitted() if not before.all_committed() and after.all_committed():
            candidate = Input.COMMITTED
        case NodeAllocated() if not before.all_allocated() and after.all_allocated():
            candidate = Input.ALLOCATED
        case CommitFailed() if (
            not event.standby
            and event.node in before.nodes
            and before.nodes[event.node].provider == event.provider
        ):
            candidate = Input.COMMIT_FAILED
        case DeploymentTornDown():
            candidate = Input.TORN_DOWN
        case _:
            pass
    return candidate if candidate is not None and accepts(after.phase, candidate) else None


class _Fold:
    """One event's worth of changes to a copy of the state."""

    def __init__(self, state: DeploymentState) -> None:
        self.state = state
        self.nodes = dict(state.nodes)
        self.allocations = dict(state.allocations)
        self.anomalies: list[str] = []

    def take(self, event: DeploymentEvent) -> None:
        before = self.state
        decision = lifecycle_input(event)
        phase = before.phase if decision is None else next_state(before.phase, decision)
        self.update(event)
        after = msgspec.structs.replace(
            self.state,
            phase=phase,
            nodes=self.nodes,
            allocations=self.allocations,
            anomalies=(*before.anomalies, *self.anomalies),
        )
        completed = _fact_input(before, after, event)
        if completed is not None:
            after = msgspec.structs.replace(after, phase=next_state(after.phase, completed))
        self.state = after

    # --- per event ---

    def update(self, event: DeploymentEvent) -> None:
        match event:
            case MatchingStarted():
                self.replace(attempts=max(self.state.attempts, event.attempt), why="")
            case DeploymentQueued():
                self.replace(why=event.why, retry_in=event.retry_in)
            case DeploymentExpired() | DeploymentFailed():
                self.replace(why=event.why)
            case NodesMatched():
                self.matched(event)
            case NodeCommitted():
                self.committed(event)
            case CommitFailed():
                self.commit_failed(event)
            case NodeReverted():
                self.reverted(event)
            case NodeAllocated():
                self.allocated(event)
            case AllocationStateChanged():
                self.reported(event)
            case AllocationsRestarted():
                for name in event.allocations:
                    if name in self.allocations:
                        view = self.allocations[name]
                        self.allocations[name] = _set(view, restarts=view.restarts + 1)
                    else:
                        self.anomalies.append(f"restart of unknown allocation {name}")
            case NodeLost():
                self.lost(event)
            case NodeRescheduled():
                self.rescheduled(event)
            case AllocationResult():
                self.replace(results={**self.state.results, event.allocation: event})
            case OutputsPublished():
                if event.allocation in self.allocations:
                    self.replace(published={**self.state.published, event.allocation: event})
                else:
                    self.anomalies.append(f"outputs of unknown allocation {event.allocation}")
            case DeploymentTornDown():
                self.replace(torn_down=True)
            case (
                SupervisorEscalated()
                | DeploymentRunning()
                | TasksDone()
                | DeploymentCompleted()
                | ShutdownRequested()
            ):
                pass
            case _:
                self.anomalies.append(f"{event.TYPE} is not a deployment event this state reads")

    def replace(self, **changes: Any) -> None:
        self.state = msgspec.structs.replace(self.state, **changes)

    def node(self, name: str, event: DeploymentEvent) -> NodeView | None:
        view = self.nodes.get(name)
        if view is None:
            self.anomalies.append(f"{event.TYPE} names unknown node {name}")
        return view

    def move(self, name: str, step: AllocationInput, *, only: frozenset[AllocationPhase]) -> None:
        view = self.allocations[name]
        if view.state in only:
            self.allocations[name] = _set(view, state=next_allocation_state(view.state, step))

    def matched(self, event: NodesMatched) -> None:
        for name, did in event.primary.items():
            node = self.node(name, event)
            if node is None:
                continue
            self.nodes[name] = NodeView(
                allocations=node.allocations,
                provider=did,
                standby=tuple(event.standby.get(name, ())),
            )
            for allocation in node.allocations:  # placed afresh: pending again
                self.move(allocation, AllocationInput.RESCHEDULED, only=_LOST)
                self.move(allocation, AllocationInput.REVERTED, only=_RESERVED)

    def committed(self, event: NodeCommitted) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        if event.standby:
            if event.provider in node.standby:
                reservations = {**node.standby_reservations, event.provider: event.reservation}
                self.nodes[event.node] = _set(node, standby_reservations=reservations)
            else:
                self.anomalies.append(f"{event.provider} is not a standby of node {event.node}")
            return
        if event.provider != node.provider:
            self.anomalies.append(
                f"commit of node {event.node} by {event.provider}, which does not hold it"
            )
            return
        self.nodes[event.node] = _set(node, committed=True, reservation=event.reservation, error="")
        for allocation in node.allocations:
            self.move(
                allocation,
                AllocationInput.COMMITTED,
                only=frozenset({AllocationPhase.PENDING}),
            )

    def commit_failed(self, event: CommitFailed) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        if event.standby:
            self.nodes[event.node] = _drop_standby(node, event.provider)
        elif event.provider == node.provider:
            self.nodes[event.node] = _set(node, committed=False, error=event.reason)

    def reverted(self, event: NodeReverted) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        if event.provider in node.standby:
            self.nodes[event.node] = _drop_standby(node, event.provider)
            return
        if event.provider != node.provider:
            return  # an abandoned round's machine, already forgotten
        self.nodes[event.node] = _set(node, committed=False, allocated=False, reservation="")
        for allocation in node.allocations:
            self.move(
                allocation,
                AllocationInput.REVERTED,
                only=_RESERVED,
            )

    def allocated(self, event: NodeAllocated) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        if event.provider != node.provider or not node.committed:
            self.anomalies.append(
                f"allocation of node {event.node} by {event.provider}, which has not committed it"
            )
            return
        strangers = sorted(set(event.allocations) - set(node.allocations))
        if strangers:
            self.anomalies.append(f"node {event.node} does not hold {', '.join(strangers)}")
        self.nodes[event.node] = _set(node, allocated=True)
        for name, handle in event.allocations.items():
            if name not in node.allocations:
                continue
            self.allocations[name] = _set(self.allocations[name], handle=handle)
            self.move(name, AllocationInput.ALLOCATED, only=frozenset({AllocationPhase.COMMITTED}))

    def reported(self, event: AllocationStateChanged) -> None:
        view = self.allocations.get(event.allocation)
        if view is None:
            self.anomalies.append(f"report for unknown allocation {event.allocation}")
            return
        if view.node != event.node:
            self.anomalies.append(
                f"report for {event.allocation} from node {event.node}; it is on {view.node}"
            )
            return
        try:
            target = AllocationPhase(event.state)
            state = (
                target
                if target is view.state
                else next_allocation_state(view.state, AllocationInput(event.state))
            )
        except (ValueError, LifecycleError) as error:
            self.anomalies.append(f"report {event.allocation} {event.state} ignored: {error}")
            return
        self.allocations[event.allocation] = _set(
            view,
            state=state,
            run=max(view.run, event.run),
            exit_code=event.exit_code,
            error=event.error,
            healthy=event.healthy,
        )

    def lost(self, event: NodeLost) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        self.nodes[event.node] = _set(
            node, lost=True, committed=False, allocated=False, reservation="", error=event.why
        )
        for allocation in node.allocations:
            self.move(allocation, AllocationInput.LOST, only=_PLACED)

    def rescheduled(self, event: NodeRescheduled) -> None:
        node = self.node(event.node, event)
        if node is None:
            return
        if not event.from_standby and node.provider == event.new_provider and not node.lost:
            return  # a new bid winner, already matched (and committed, allocated) afresh
        reservation = node.standby_reservations.get(event.new_provider, "")
        rest = _drop_standby(node, event.new_provider)
        self.nodes[event.node] = NodeView(
            allocations=node.allocations,
            provider=event.new_provider,
            reservation=reservation,
            committed=bool(reservation),
            standby=rest.standby,
            standby_reservations=rest.standby_reservations,
        )
        for allocation in node.allocations:
            self.move(allocation, AllocationInput.RESCHEDULED, only=_LOST)
            if reservation:
                self.move(
                    allocation,
                    AllocationInput.COMMITTED,
                    only=frozenset({AllocationPhase.PENDING}),
                )


def _set(view: _View, **changes: Any) -> _View:
    return msgspec.structs.replace(view, **changes)


def _drop_standby(node: NodeView, did: str) -> NodeView:
    return _set(
        node,
        standby=tuple(d for d in node.standby if d != did),
        standby_reservations={d: r for d, r in node.standby_reservations.items() if d != did},
    )


class Anomaly(msgspec.Struct, frozen=True, array_like=True):
    deployment: str
    type: str
    problem: str


class Deployments(msgspec.Struct, kw_only=True):
    """Every deployment's state by id, folded from a log holding many (and other) events.

    `apply` updates it in place and returns it (as `nunet.eventlog.Projection.evolve` may), so a
    log of many deployments folds in time linear in its length. It never raises: an event for
    an unknown deployment, a second submission or a decision the lifecycle refuses leaves the
    states as they were and is kept in `anomalies`.
    """

    by_id: dict[str, DeploymentState] = {}
    anomalies: list[Anomaly] = []

    def apply(self, event: Event) -> Deployments:
        if not isinstance(event, DeploymentEvent):
            return self
        current = self.by_id.get(event.deployment)
        try:
            if isinstance(event, DeploymentSubmitted) and current is None:
                state = DeploymentState.submitted(event)
            elif current is None:
                raise LifecycleError(f"no deployment {event.deployment} was submitted")
            else:
                state = current.apply(event)
        except LifecycleError as error:
            self.anomalies.append(Anomaly(event.deployment, event.TYPE, str(error)))
            return self
        self.by_id[event.deployment] = state
        return self

    @classmethod
    def replay(cls, events: Iterable[Event]) -> Deployments:
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def get(self, deployment: str) -> DeploymentState | None:
        return self.by_id.get(deployment)

    def in_phases(self, *phases: Phase) -> list[str]:
        """Ids of the deployments in any of `phases`, in submission order."""
        return [id_ for id_, state in self.by_id.items() if state.phase in phases]
