"""The ensemble's supervisor tree, fed from what providers report.

`Supervision` turns the flattened ensemble's supervisor spec into a pure `SupervisionTree`
(children ordered so every allocation starts after what it depends on) and translates: an
allocation's reported view into the tree's leaf events, and the tree's commands into what the
orchestrator carries out. It holds the tree; it does no I/O.

Rules
-----
- Restart types: `always` → permanent, `on-failure` → transient, `never` → temporary.
- An allocation has started (for its supervisor) when it runs — and, with a health check,
  once it is healthy; a task that exits 0 before anyone saw it run started and ended normally.
- Ended on its own: exit code 0 is a normal exit, anything else (or `failed`) abnormal; a
  running service whose health check fails counts as an abnormal exit.
- Losing a machine is not an allocation's failure: the orchestrator starts the node's
  allocations elsewhere and the tree is not told.
- A restarted orchestrator rebuilds the tree (`resume`): what its machines had started is
  re-attached from its last reported view, never started a second time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from nunet.actor.supervision import ChildStatus, Restart
from nunet.actor.supervision import Strategy as OtpStrategy
from nunet.ensemble import FlatEnsemble, SupervisorSpec
from nunet.ensemble import Restart as RestartPolicy
from nunet.ensemble import Strategy as EnsembleStrategy
from nunet.orchestrator.allocation_view import AllocationPhase
from nunet.orchestrator.state import AllocationView
from nunet.orchestrator.tree import (
    AllocationExited,
    AllocationStarted,
    AllocationStartFailed,
    AllocationStopped,
    Escalated,
    LeafEvent,
    Restarted,
    StartAllocation,
    StopAllocation,
    SupervisionTree,
    TreeCommand,
    TreeSpec,
)

STRATEGIES = {
    EnsembleStrategy.ONE_FOR_ONE: OtpStrategy.ONE_FOR_ONE,
    EnsembleStrategy.ALL_FOR_ONE: OtpStrategy.ALL_FOR_ONE,
    EnsembleStrategy.REST_FOR_ONE: OtpStrategy.REST_FOR_ONE,
}
STRATEGY_NAMES = {otp: ensemble.value for ensemble, otp in STRATEGIES.items()}
"""The ensemble's spelling (`one-for-one`) of each OTP strategy, as events and users say it."""
RESTARTS = {
    RestartPolicy.ALWAYS: Restart.PERMANENT,
    RestartPolicy.ON_FAILURE: Restart.TRANSIENT,
    RestartPolicy.NEVER: Restart.TEMPORARY,
}


@dataclasses.dataclass(frozen=True)
class Actions:
    """What the tree decided, for the orchestrator to carry out in this order."""

    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    restarted: tuple[Restarted, ...] = ()
    escalated: tuple[Escalated, ...] = ()

    def __add__(self, other: Actions) -> Actions:
        return Actions(
            stop=self.stop + other.stop,
            start=self.start + other.start,
            restarted=self.restarted + other.restarted,
            escalated=self.escalated + other.escalated,
        )


def tree_spec(flat: FlatEnsemble) -> TreeSpec:
    """The flattened ensemble's supervisor as a tree spec, children in dependency order.
    A sub-ensemble's supervisor is named after the sub-ensemble (`analytics`, then
    `analytics/archive` for one inside it); any other nested supervisor by its position
    (`s0`: its parent's first child)."""
    rank = {name: wave for wave, names in enumerate(flat.start_order()) for name in names}

    def convert(spec: SupervisorSpec, name: str, namespace: str) -> tuple[TreeSpec, int]:
        children: list[tuple[int, int, str | TreeSpec]] = []
        leaves = {child.allocation for child in spec.children if child.supervisor is None}
        for index, child in enumerate(spec.children):
            if child.supervisor is not None:
                inner = _namespace(child.supervisor)
                ensemble = _sub_ensemble(namespace, inner)
                label = ensemble if ensemble and ensemble not in leaves else f"s{index}"
                scope = f"{namespace}.{ensemble}".lstrip(".") if ensemble else namespace
                sub, first = convert(child.supervisor, label, scope)
                children.append((first, index, sub))
            else:
                children.append((rank[child.allocation], index, child.allocation))
        children.sort(key=lambda c: (c[0], c[1]))
        first = min((c[0] for c in children), default=0)
        return (
            TreeSpec(
                strategy=STRATEGIES[spec.strategy],
                children=tuple(c[2] for c in children),
                max_restarts=spec.intensity.restarts,
                period_seconds=spec.intensity.period,
                name=name,
            ),
            first,
        )

    return convert(flat.supervisor, "", "")[0]


def _namespace(spec: SupervisorSpec) -> str:
    """The qualified prefix every allocation under `spec` shares (`analytics.archive`)."""
    names = [name.split(".")[:-1] for name in supervised(spec)]
    common: list[str] = []
    for parts in zip(*names, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return ".".join(common)


def _sub_ensemble(outer: str, inner: str) -> str:
    """The sub-ensemble a supervisor is the root of: the first name in `inner` (its leaves'
    common prefix) below `outer` (its parent's); "" when it is no sub-ensemble's."""
    prefix = f"{outer}." if outer else ""
    if not inner.startswith(prefix) or inner == outer:
        return ""
    return inner[len(prefix) :].split(".")[0]


def supervised(spec: SupervisorSpec) -> list[str]:
    """Every allocation under `spec`, in its children's order."""
    found: list[str] = []
    for child in spec.children:
        if child.supervisor is not None:
            found.extend(supervised(child.supervisor))
        else:
            found.append(child.allocation)
    return found


class Supervision:
    """The deployment's tree and the translation to and from it."""

    def __init__(self, flat: FlatEnsemble) -> None:
        self._flat = flat
        self.tree = SupervisionTree.build(
            tree_spec(flat),
            {name: RESTARTS[a.allocation.restart] for name, a in flat.allocations.items()},
        )

    @property
    def started(self) -> bool:
        return self.tree.phase is not None

    def start(self, now: float) -> Actions:
        self.tree, commands = self.tree.start(now)
        return _actions(commands)

    def resume(self, views: Mapping[str, AllocationView], now: float) -> Actions:
        """Start the tree over allocations that may have run already (the orchestrator
        restarted): an allocation the tree starts for the first time that is up or coming up
        on its machine is not started again — its current view is fed instead; the rest is
        what to carry out."""
        actions = self.start(now)
        todo = Actions()
        attached: set[str] = set()
        while True:
            again = [n for n in actions.start if n not in attached and _is_up_or_coming(views[n])]
            todo += dataclasses.replace(
                actions, start=tuple(n for n in actions.start if n not in again)
            )
            if not again:
                return todo
            attached.update(again)
            actions = Actions()
            for name in again:
                actions += self.observe(name, views[name], now)

    def observe(self, name: str, view: AllocationView, now: float) -> Actions:
        """The tree's decisions after `name`'s latest reported view."""
        actions = Actions()
        for event in self._events(name, view):
            self.tree, commands = self.tree.step(event, now)
            actions += _actions(commands)
        return actions

    def start_failed(self, name: str, reason: str, now: float) -> Actions:
        """`name` did not come up in time."""
        if self.tree.leaf_status(name) is not ChildStatus.STARTING:
            return Actions()
        self.tree, commands = self.tree.step(AllocationStartFailed(name, reason), now)
        return _actions(commands)

    def status(self, name: str) -> ChildStatus:
        return self.tree.leaf_status(name)

    def busy(self) -> bool:
        """Whether any allocation is being started or stopped by its supervisor."""
        return any(
            self.tree.leaf_status(name) in (ChildStatus.STARTING, ChildStatus.STOPPING)
            for name in self.tree.leaves
        )

    def _events(self, name: str, view: AllocationView) -> list[LeafEvent]:
        status = self.tree.leaf_status(name)
        state = view.state.value
        has_check = self._flat.allocations[name].allocation.healthcheck is not None
        up = state == "running" and (not has_check or view.healthy is True)
        ended = state in ("exited", "failed")
        normal = state == "exited" and view.exit_code == 0
        reason = view.error or (
            f"exit code {view.exit_code}" if view.exit_code not in (None, 0) else state
        )
        if status is ChildStatus.STARTING:
            if up:
                return [AllocationStarted(name)]
            if ended and normal:
                return [AllocationStarted(name), AllocationExited(name, True, "exited 0")]
            if ended or state == "stopped":
                return [AllocationStartFailed(name, reason)]
            return []
        if status is ChildStatus.RUNNING:
            if ended:
                return [AllocationExited(name, normal, reason)]
            if state == "stopped":
                return [AllocationExited(name, False, "stopped by its machine")]
            if state == "running" and has_check and view.healthy is False:
                return [AllocationExited(name, False, "its health check failed")]
            return []
        if status is ChildStatus.STOPPING and (ended or state == "stopped"):
            return [AllocationStopped(name)]
        return []


def _is_up_or_coming(view: AllocationView) -> bool:
    """Whether a resumed allocation is re-attached (it is starting, running, or a task that
    completed) rather than started (again): one that failed or stopped while nobody watched
    starts afresh, before anything that depends on it."""
    if view.state in (AllocationPhase.STARTING, AllocationPhase.RUNNING):
        return True
    return view.state is AllocationPhase.EXITED and view.exit_code == 0


def _actions(commands: tuple[TreeCommand, ...]) -> Actions:
    stop: list[str] = []
    start: list[str] = []
    restarted: list[Restarted] = []
    escalated: list[Escalated] = []
    for command in commands:
        match command:
            case StopAllocation():
                stop.append(command.allocation)
            case StartAllocation():
                start.append(command.allocation)
            case Restarted():
                restarted.append(command)
            case Escalated():
                escalated.append(command)
            case _:
                pass
    return Actions(tuple(stop), tuple(start), tuple(restarted), tuple(escalated))
