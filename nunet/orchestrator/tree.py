"""A deployment's supervision tree: nested OTP-style supervisors (`nunet.actor.supervision`)
whose leaves are allocations, driven by allocation events and `now`, returning what to do.

No I/O and no clock. Each supervisor of the tree is the existing pure `Supervision` machine;
this module only routes between them:

- a leaf event (an allocation started, failed to start, exited, stopped) goes to the
  supervisor holding that leaf;
- a supervisor's StartChild/StopChild of a leaf becomes `StartAllocation`/`StopAllocation`;
  of a sub-supervisor, a fresh start of that sub-supervisor (its restart intensity begins
  anew, as a restarted OTP supervisor's does) or a stop request to it;
- a sub-supervisor that reaches RUNNING is its parent's ChildStarted; one that exits normally
  after a stop is its parent's ChildStopped; one that escalates is its parent's
  ChildStartFailed (while it was starting) or ChildExited(abnormal) — the parent's strategy
  then decides. The root's escalation is `Escalated("")`: the deployment fails.

Sub-supervisors are PERMANENT children; each leaf's restart type comes from the caller
(`permanent`, `transient` or `temporary`; TRANSIENT if not given). Paths name supervisors:
"" is the root, `web` a sub-supervisor named web under it, `web/1` the second child of web
when that one has no name. A supervisor's restarts are reported as `Restarted` with the leaves
that are restarted, for the deployment's history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from nunet.actor.supervision import (
    ChildExited,
    ChildSpec,
    ChildStarted,
    ChildStartFailed,
    ChildStatus,
    ChildStopped,
    Command,
    Escalate,
    ExitNormally,
    Intensity,
    Phase,
    Restart,
    StartChild,
    StopChild,
    StopRequested,
    Strategy,
    Supervision,
    SupervisionError,
    SupervisorState,
)
from nunet.actor.supervision import Event as SupervisorEvent


class TreeError(SupervisionError):
    """A tree spec that cannot be built, or a tree driven wrongly."""


class UnknownAllocation(TreeError):
    """An event names an allocation that is not a leaf of this tree."""


@dataclass(frozen=True, slots=True)
class TreeSpec:
    """One supervisor: its strategy and intensity, and its children in start order — allocation
    names (leaves) and nested supervisors."""

    strategy: Strategy
    children: tuple[str | TreeSpec, ...]
    max_restarts: int = 3
    period_seconds: float = 60.0
    name: str = ""  # "": named by its position among its parent's children


# --- what the caller feeds ---


@dataclass(frozen=True, slots=True)
class AllocationStarted:
    allocation: str


@dataclass(frozen=True, slots=True)
class AllocationStartFailed:
    allocation: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AllocationExited:
    """It ended on its own; `normal` False for a crash, a non-zero exit or a failed health."""

    allocation: str
    normal: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AllocationStopped:
    """It ended after a StopAllocation."""

    allocation: str


LeafEvent = AllocationStarted | AllocationStartFailed | AllocationExited | AllocationStopped

# --- what the tree returns ---


@dataclass(frozen=True, slots=True)
class StartAllocation:
    allocation: str


@dataclass(frozen=True, slots=True)
class StopAllocation:
    allocation: str


@dataclass(frozen=True, slots=True)
class Restarted:
    """Supervisor `path` decided to restart `allocations` (the leaves under what it restarts)."""

    path: str
    allocations: tuple[str, ...]
    strategy: Strategy
    why: str


@dataclass(frozen=True, slots=True)
class Escalated:
    """Supervisor `path` gave up after stopping its children; at the root ("") the deployment
    fails."""

    path: str
    reason: str

    @property
    def is_root(self) -> bool:
        return self.path == ""


@dataclass(frozen=True, slots=True)
class TreeStopped:
    """Every allocation is stopped after `stop`."""


TreeCommand = StartAllocation | StopAllocation | Restarted | Escalated | TreeStopped


# --- the tree's fixed shape ---


@dataclass(frozen=True, slots=True)
class _Shape:
    policies: Mapping[str, Supervision]  # path -> its supervisor's policy
    parent_of_leaf: Mapping[str, str]  # leaf -> the path of its supervisor
    leaves_under: Mapping[str, tuple[str, ...]]  # path -> every leaf below it, in start order
    leaves: tuple[str, ...]


def _child_path(parent: str, child_id: str) -> str:
    return child_id if parent == "" else f"{parent}/{child_id}"


def _build(spec: TreeSpec, restarts: Mapping[str, str | Restart]) -> _Shape:
    policies: dict[str, Supervision] = {}
    parent_of_leaf: dict[str, str] = {}
    leaves_under: dict[str, tuple[str, ...]] = {}

    def visit(node: TreeSpec, path: str) -> tuple[str, ...]:
        specs: list[ChildSpec] = []
        below: list[str] = []
        for index, child in enumerate(node.children):
            if isinstance(child, str):
                if not child or "/" in child:
                    raise TreeError(f"supervisor {path or 'root'}: {child!r} is not a leaf name")
                if child in parent_of_leaf:
                    raise TreeError(f"allocation {child!r} appears twice in the tree")
                parent_of_leaf[child] = path
                specs.append(ChildSpec(child, _restart_of(child, restarts)))
                below.append(child)
            else:
                child_id = child.name or str(index)
                if "/" in child_id:
                    raise TreeError(f"supervisor name {child_id!r} cannot contain '/'")
                specs.append(ChildSpec(child_id, Restart.PERMANENT))
                below.extend(visit(child, _child_path(path, child_id)))
        try:
            intensity = Intensity(node.max_restarts, node.period_seconds)
            policies[path] = Supervision(node.strategy, intensity, tuple(specs))
        except SupervisionError as error:
            raise TreeError(f"supervisor {path or 'root'}: {error}") from None
        leaves_under[path] = tuple(below)
        return tuple(below)

    leaves = visit(spec, "")
    unknown = sorted(set(restarts) - set(leaves))
    if unknown:
        raise TreeError(f"restart types given for allocations not in the tree: {unknown}")
    return _Shape(policies, parent_of_leaf, leaves_under, leaves)


def _restart_of(leaf: str, restarts: Mapping[str, str | Restart]) -> Restart:
    given = restarts.get(leaf, Restart.TRANSIENT)
    try:
        return Restart(given)
    except ValueError:
        raise TreeError(
            f"allocation {leaf!r}: restart {given!r} is not one of permanent, transient, temporary"
        ) from None


# --- the tree ---


@dataclass(frozen=True, slots=True)
class SupervisionTree:
    """The tree's shape and every started supervisor's state. Build it with `build`, then
    `start`; each call returns the next tree and the commands to carry out, in order."""

    shape: _Shape
    states: Mapping[str, SupervisorState] = field(default_factory=dict)
    last_failure: Mapping[str, str] = field(default_factory=dict)  # path -> latest failure seen

    @classmethod
    def build(
        cls, spec: TreeSpec, restarts: Mapping[str, str | Restart] | None = None
    ) -> SupervisionTree:
        return cls(_build(spec, restarts or {}))

    # --- questions ---

    @property
    def leaves(self) -> tuple[str, ...]:
        """Every allocation in start order."""
        return self.shape.leaves

    @property
    def phase(self) -> Phase | None:
        """The root supervisor's phase; None before `start`."""
        root = self.states.get("")
        return None if root is None else root.phase

    def supervisor(self, path: str) -> SupervisorState:
        if path not in self.states:
            raise TreeError(f"no started supervisor at {path!r}")
        return self.states[path]

    def leaf_status(self, leaf: str) -> ChildStatus:
        """The leaf's status as its supervisor sees it (STOPPED if that one is not started)."""
        parent = self._parent(leaf)
        state = self.states.get(parent)
        if state is None or leaf not in state.ids:
            return ChildStatus.STOPPED
        return state.status(leaf)

    def leaves_under(self, path: str) -> tuple[str, ...]:
        return self.shape.leaves_under[path]

    # --- driving it ---

    def start(self, now: float) -> tuple[SupervisionTree, tuple[TreeCommand, ...]]:
        if "" in self.states:
            raise TreeError("the tree is already started")
        run = _Cascade(self, now)
        run.start_supervisor("")
        return run.result()

    def step(self, event: LeafEvent, now: float) -> tuple[SupervisionTree, tuple[TreeCommand, ...]]:
        parent = self._parent(event.allocation)
        if parent not in self.states:
            raise TreeError(
                f"allocation {event.allocation!r}: its supervisor {parent or 'root'} is not running"
            )
        run = _Cascade(self, now)
        match event:
            case AllocationStarted():
                run.feed(parent, ChildStarted(event.allocation))
            case AllocationStartFailed():
                run.feed(parent, ChildStartFailed(event.allocation, event.reason))
            case AllocationExited():
                run.feed(parent, ChildExited(event.allocation, event.normal, event.reason))
            case AllocationStopped():
                run.feed(parent, ChildStopped(event.allocation))
        return run.result()

    def stop(self, now: float) -> tuple[SupervisionTree, tuple[TreeCommand, ...]]:
        """Stop every allocation (children in reverse start order); TreeStopped when done."""
        if "" not in self.states:
            raise TreeError("the tree was never started")
        run = _Cascade(self, now)
        run.feed("", StopRequested())
        return run.result()

    def _parent(self, leaf: str) -> str:
        try:
            return self.shape.parent_of_leaf[leaf]
        except KeyError:
            raise UnknownAllocation(f"no allocation {leaf!r} in this supervision tree") from None


class _Cascade:
    """One call's worth of supervisor steps: inputs are queued and fed in order, so a command
    one supervisor returns reaches the next one after the current step is complete."""

    def __init__(self, tree: SupervisionTree, now: float) -> None:
        self.tree = tree
        self.now = now
        self.states = dict(tree.states)
        self.last_failure = dict(tree.last_failure)
        self.queue: deque[tuple[str, SupervisorEvent]] = deque()
        self.commands: list[TreeCommand] = []

    def result(self) -> tuple[SupervisionTree, tuple[TreeCommand, ...]]:
        while self.queue:
            path, event = self.queue.popleft()
            self.step(path, event)
        tree = replace(self.tree, states=self.states, last_failure=self.last_failure)
        return tree, tuple(self.commands)

    def feed(self, path: str, event: SupervisorEvent) -> None:
        self.queue.append((path, event))

    def start_supervisor(self, path: str) -> None:
        state, commands = self.tree.shape.policies[path].start(self.now)
        self.states[path] = state
        self.after(path, None, state, commands)

    def step(self, path: str, event: SupervisorEvent) -> None:
        if isinstance(event, ChildExited | ChildStartFailed):
            self.last_failure[path] = self.describe(path, event)
        before = self.states[path]
        state, commands = self.tree.shape.policies[path].step(before, event, self.now)
        self.states[path] = state
        self.after(path, before, state, commands)

    def after(
        self,
        path: str,
        before: SupervisorState | None,
        state: SupervisorState,
        commands: tuple[Command, ...],
    ) -> None:
        """Carry out a supervisor's commands and tell its parent what it became."""
        restarted = before is not None and state.restart_count > before.restart_count
        if restarted and state.phase not in (Phase.ESCALATING, Phase.ESCALATED):
            self.report_restart(path, state, commands)
        for command in commands:
            match command:
                case StartChild(child=child):
                    self.start_child(path, child)
                case StopChild(child=child):
                    self.stop_child(path, child)
                case Escalate(reason=reason):
                    self.commands.append(Escalated(path, reason))
                    self.to_parent(path, "escalated", reason)
                case ExitNormally():
                    self.to_parent(path, "stopped", "")
        if state.phase is Phase.RUNNING and (before is None or before.phase is Phase.STARTING):
            self.to_parent(path, "running", "")

    def start_child(self, path: str, child: str) -> None:
        if child in self.tree.shape.parent_of_leaf:
            self.commands.append(StartAllocation(child))
        else:
            self.start_supervisor(_child_path(path, child))

    def stop_child(self, path: str, child: str) -> None:
        if child in self.tree.shape.parent_of_leaf:
            self.commands.append(StopAllocation(child))
        else:
            self.feed(_child_path(path, child), StopRequested())

    def to_parent(self, path: str, what: str, reason: str) -> None:
        if path == "":
            if what == "stopped":
                self.commands.append(TreeStopped())
            return
        parent, _, child = path.rpartition("/")
        status = self.states[parent].status(child)
        if what == "running":
            self.feed(parent, ChildStarted(child))
        elif what == "stopped":
            self.feed(parent, ChildStopped(child))
        elif status is ChildStatus.STARTING:
            self.feed(parent, ChildStartFailed(child, reason))
        else:
            self.feed(parent, ChildExited(child, normal=False, reason=reason))

    def report_restart(
        self, path: str, state: SupervisorState, commands: tuple[Command, ...]
    ) -> None:
        started = [c.child for c in commands if isinstance(c, StartChild)]
        planned = list(state.plan.to_start) if state.plan is not None else []
        children = dict.fromkeys([*started, *planned])
        leaves = tuple(dict.fromkeys(self._leaves(path, children)))
        self.commands.append(
            Restarted(
                path,
                leaves,
                self.tree.shape.policies[path].strategy,
                self.last_failure.get(path, ""),
            )
        )

    def describe(self, path: str, event: ChildExited | ChildStartFailed) -> str:
        if event.child in self.tree.shape.parent_of_leaf:
            what = f"allocation {event.child}"
        else:
            what = f"supervisor {_child_path(path, event.child)}"
        if isinstance(event, ChildStartFailed):
            text = f"{what} failed to start"
        else:
            text = f"{what} exited {'normally' if event.normal else 'abnormally'}"
        return f"{text}: {event.reason}" if event.reason else text

    def _leaves(self, path: str, children: Mapping[str, None]) -> Iterator[str]:
        for child in children:
            if child in self.tree.shape.parent_of_leaf:
                yield child
            else:
                yield from self.tree.shape.leaves_under[_child_path(path, child)]
