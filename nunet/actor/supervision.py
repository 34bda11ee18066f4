"""Supervision as a pure state machine with Erlang/OTP semantics: events in, commands out.

No I/O and no clock: the actor shell feeds events (a child started, exited, stopped; stop
requested; a child added or removed) with the time `now`, and carries out the commands returned
(StartChild, StopChild, Escalate, ExitNormally). One start or stop is in flight at a time, so
children start in start order and stop in reverse start order, as OTP does.

Rules
-----
Strategies, when a child fails and is to be restarted:
  ONE_FOR_ONE   restart the failed child.
  ALL_FOR_ONE   stop every other live child in reverse start order, then start the failed child
                and those stopped, in start order.
  REST_FOR_ONE  stop the live children started after the failed one in reverse order, then
                start the failed child and those stopped, in start order.
Restart types decide whether a child that exited on its own is restarted:
  PERMANENT always; TRANSIENT only after an abnormal exit; TEMPORARY never (and it is forgotten).
  A TEMPORARY child stopped because a sibling failed is forgotten too, never restarted.
Intensity: each restart decision, and each failure to restart a child, is a restart at `now`.
  Restarts within the last `period` seconds (a restart exactly `period` old still counts, as in
  OTP) may number at most `max_restarts`; one more and the supervisor escalates: it stops all
  children in reverse start order, then emits Escalate(reason) to fail to its parent.
Startup: children start one by one in order; if one fails to start, the supervisor escalates.
  A child added at run time that fails its first start is forgotten.
A child that exits while a restart is being carried out is dealt with when it is done (as OTP
  handles an EXIT message after the restart), unless the restart was going to stop it anyway.

Transitions (a child event names a child; the child's status must be the one listed)
-----------------------------------------------------------------------------------
  event             child status        child becomes   then
  ChildStarted      STARTING            RUNNING         continue the plan
  ChildStartFailed  STARTING            STOPPED         startup: escalate; restart: count, retry
  ChildExited       RUNNING             STOPPED         restart per strategy / forget / queue
  ChildExited       STOPPING            STOPPED         as ChildStopped (it went down anyway)
  ChildStopped      STOPPING            STOPPED         forget if removed; continue the plan

  supervisor phase  child events  AddChild/RemoveChild  StopRequested
  STARTING          yes           yes                   -> STOPPING
  RUNNING           yes           yes                   -> STOPPING
  RESTARTING        yes           yes                   -> STOPPING
  STOPPING          yes           InvalidTransition     no-op
  ESCALATING        yes           InvalidTransition     no-op
  STOPPED           (no children) InvalidTransition     no-op
  ESCALATED         (no children) InvalidTransition     no-op
Plans finish as: STARTING/RESTARTING -> RUNNING; STOPPING -> STOPPED + ExitNormally;
ESCALATING -> ESCALATED + Escalate(reason).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import assert_never

from nunet.errors import NunetError

# --- configuration ---


class Strategy(enum.Enum):
    ONE_FOR_ONE = "one_for_one"
    ALL_FOR_ONE = "all_for_one"
    REST_FOR_ONE = "rest_for_one"


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class ChildSpec:
    id: str
    restart: Restart = Restart.PERMANENT

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise SupervisionError(f"a child id is a non-empty string, not {self.id!r}")


@dataclass(frozen=True, slots=True)
class Intensity:
    """At most `max_restarts` restarts within `period` seconds (OTP's MaxR and MaxT)."""

    max_restarts: int = 3
    period: float = 5.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise SupervisionError(f"max_restarts cannot be negative ({self.max_restarts})")
        if not self.period > 0:
            raise SupervisionError(f"the intensity period must be positive ({self.period})")


# --- errors ---


class SupervisionError(NunetError):
    """A supervisor was configured or driven wrongly."""


class InvalidTransition(SupervisionError):
    """An event that cannot happen in the current state (the shell and the machine disagree)."""


class UnknownChild(SupervisionError):
    """An event names a child this supervisor does not have."""


class DuplicateChild(SupervisionError):
    """A child id is already in use under this supervisor."""


# --- events (inputs) ---


@dataclass(frozen=True, slots=True)
class ChildStarted:
    child: str


@dataclass(frozen=True, slots=True)
class ChildStartFailed:
    child: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChildExited:
    """The child terminated on its own; `normal` is False for a crash."""

    child: str
    normal: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChildStopped:
    """The child terminated after a StopChild command."""

    child: str


@dataclass(frozen=True, slots=True)
class StopRequested:
    pass


@dataclass(frozen=True, slots=True)
class AddChild:
    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class RemoveChild:
    child: str


Event = (
    ChildStarted
    | ChildStartFailed
    | ChildExited
    | ChildStopped
    | StopRequested
    | AddChild
    | RemoveChild
)
ChildEvent = ChildStarted | ChildStartFailed | ChildExited | ChildStopped

# --- commands (outputs) ---


@dataclass(frozen=True, slots=True)
class StartChild:
    child: str


@dataclass(frozen=True, slots=True)
class StopChild:
    child: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """All children are stopped; fail to the parent with this reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class ExitNormally:
    """All children are stopped after StopRequested; the supervisor is done."""


Command = StartChild | StopChild | Escalate | ExitNormally

# --- state ---


class ChildStatus(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Phase(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    ESCALATING = "escalating"
    STOPPED = "stopped"
    ESCALATED = "escalated"


_LIVE = frozenset({ChildStatus.STARTING, ChildStatus.RUNNING, ChildStatus.STOPPING})
_ACCEPTS_CHANGES = frozenset({Phase.STARTING, Phase.RUNNING, Phase.RESTARTING})
_SHUTTING_DOWN = frozenset({Phase.STOPPING, Phase.ESCALATING})
_TERMINAL = frozenset({Phase.STOPPED, Phase.ESCALATED})


@dataclass(frozen=True, slots=True)
class Child:
    spec: ChildSpec
    status: ChildStatus = ChildStatus.STOPPED
    started_once: bool = False

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True, slots=True)
class Plan:
    """Work in progress: stop these (in this order), then start these (in this order)."""

    to_stop: tuple[str, ...] = ()
    to_start: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SupervisorState:
    phase: Phase
    children: tuple[Child, ...]  # in start order
    plan: Plan | None = None
    restarts: tuple[float, ...] = ()  # times of restarts still inside the intensity window
    restart_count: int = 0  # restarts ever, for observers
    deferred: tuple[ChildExited, ...] = ()  # exits that happened while a plan was running
    removing: frozenset[str] = frozenset()  # children to forget once they have stopped
    escalation: str = ""
    now: float = float("-inf")

    def child(self, child_id: str) -> Child:
        for child in self.children:
            if child.id == child_id:
                return child
        raise UnknownChild(f"this supervisor has no child {child_id!r}")

    def status(self, child_id: str) -> ChildStatus:
        return self.child(child_id).status

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(child.id for child in self.children)


# --- the machine ---


@dataclass(frozen=True, slots=True)
class Supervision:
    """A supervisor's fixed policy. `start` gives the first state; `step` every next one."""

    strategy: Strategy
    intensity: Intensity = field(default_factory=Intensity)
    children: tuple[ChildSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", tuple(self.children))
        _check_unique(spec.id for spec in self.children)

    def start(self, now: float) -> tuple[SupervisorState, tuple[Command, ...]]:
        """Start the children one by one in order (the first StartChild comes back now)."""
        state = SupervisorState(
            phase=Phase.STARTING,
            children=tuple(Child(spec) for spec in self.children),
            plan=Plan(to_start=tuple(spec.id for spec in self.children)),
            now=now,
        )
        return _Run(self, state, now).advance().result()

    def step(
        self, state: SupervisorState, event: Event, now: float
    ) -> tuple[SupervisorState, tuple[Command, ...]]:
        if now < state.now:
            raise SupervisionError(f"time went backwards: {now} after {state.now}")
        run = _Run(self, replace(state, now=now), now)
        match event:
            case ChildStarted():
                _on_started(run, event)
            case ChildStartFailed():
                _on_start_failed(run, event)
            case ChildExited():
                _on_exited(run, event)
            case ChildStopped():
                _on_stopped(run, event)
            case StopRequested():
                _on_stop_requested(run)
            case AddChild():
                _on_add(run, event)
            case RemoveChild():
                _on_remove(run, event)
            case _:
                assert_never(event)
        return run.advance().result()


def _check_unique(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for child_id in ids:
        if child_id in seen:
            raise DuplicateChild(f"two children are named {child_id!r}")
        seen.add(child_id)


class _Run:
    """One step's worth of work on a copy of the state; `result` freezes it."""

    def __init__(self, policy: Supervision, state: SupervisorState, now: float) -> None:
        self.policy = policy
        self.state = state
        self.now = now
        self.commands: list[Command] = []

    def result(self) -> tuple[SupervisorState, tuple[Command, ...]]:
        return self.state, tuple(self.commands)

    # --- small edits ---

    def set_status(self, child_id: str, status: ChildStatus, *, started: bool = False) -> None:
        self.state = replace(
            self.state,
            children=tuple(
                replace(c, status=status, started_once=c.started_once or started)
                if c.id == child_id
                else c
                for c in self.state.children
            ),
        )

    def forget(self, child_id: str) -> None:
        plan = self.state.plan
        self.state = replace(
            self.state,
            children=tuple(c for c in self.state.children if c.id != child_id),
            removing=self.state.removing - {child_id},
            deferred=tuple(e for e in self.state.deferred if e.child != child_id),
            plan=None
            if plan is None
            else Plan(
                tuple(i for i in plan.to_stop if i != child_id),
                tuple(i for i in plan.to_start if i != child_id),
            ),
        )

    def live_ids(self, children: Iterable[Child]) -> list[str]:
        return [c.id for c in children if c.status in _LIVE]

    # --- decisions ---

    def child_went_down(self, child_id: str) -> None:
        """A STOPPING child is gone (stopped, or exited on the way down)."""
        self.set_status(child_id, ChildStatus.STOPPED)
        if child_id in self.state.removing:
            self.forget(child_id)

    def shut_down(self, phase: Phase, reason: str = "") -> None:
        """Stop every live child in reverse start order, then finish as `phase` says."""
        self.state = replace(
            self.state,
            phase=phase,
            plan=Plan(to_stop=tuple(reversed(self.live_ids(self.state.children)))),
            deferred=(),
            escalation=reason,
        )

    def count_restart(self, why: str) -> bool:
        """Record a restart now; escalate and return False if it exceeds the intensity."""
        intensity = self.policy.intensity
        window_start = self.now - intensity.period
        restarts = (*(t for t in self.state.restarts if t >= window_start), self.now)
        self.state = replace(
            self.state, restarts=restarts, restart_count=self.state.restart_count + 1
        )
        if len(restarts) <= intensity.max_restarts:
            return True
        self.shut_down(
            Phase.ESCALATING,
            f"{why}; {len(restarts)} restarts within {intensity.period:g} s "
            f"exceed the intensity of {intensity.max_restarts}",
        )
        return False

    def child_failed(self, exit_: ChildExited) -> None:
        """A RUNNING child exited on its own and nothing else is in progress: decide."""
        child = self.state.child(exit_.child)
        restart = child.spec.restart
        if child.id in self.state.removing or restart is Restart.TEMPORARY:
            self.forget(child.id)
            return
        if restart is Restart.TRANSIENT and exit_.normal:
            return
        how = "normally" if exit_.normal else "abnormally"
        why = f"child {child.id!r} exited {how}" + (f": {exit_.reason}" if exit_.reason else "")
        if not self.count_restart(why):
            return
        plan = self.restart_plan(child.id)  # before reading self.state: it marks temporaries
        self.state = replace(self.state, phase=Phase.RESTARTING, plan=plan)

    def restart_plan(self, failed: str) -> Plan:
        children = self.state.children
        position = self.state.ids.index(failed)
        if self.policy.strategy is Strategy.ONE_FOR_ONE:
            return Plan(to_start=(failed,))
        if self.policy.strategy is Strategy.ALL_FOR_ONE:
            affected = [c for c in children if c.id != failed]
        else:
            affected = list(children[position + 1 :])
        to_stop = self.live_ids(affected)
        temporary = {
            c.id for c in affected if c.id in to_stop and c.spec.restart is Restart.TEMPORARY
        }
        self.state = replace(self.state, removing=self.state.removing | temporary)
        restarted = {failed, *to_stop} - temporary
        return Plan(
            to_stop=tuple(reversed(to_stop)),
            to_start=tuple(c.id for c in children if c.id in restarted),
        )

    # --- carrying out the plan ---

    def advance(self) -> _Run:
        """Issue the next start or stop, finish a completed plan, or take up a deferred exit."""
        while True:
            state = self.state
            if any(
                c.status in (ChildStatus.STARTING, ChildStatus.STOPPING) for c in state.children
            ):
                return self  # one operation in flight at a time
            plan = state.plan
            if plan is None:
                if state.phase is not Phase.RUNNING or not state.deferred:
                    return self
                exit_, *rest = state.deferred
                self.state = replace(self.state, deferred=tuple(rest))
                if exit_.child in state.ids:
                    self.child_failed(exit_)
                continue
            if plan.to_stop:
                child_id, rest_stop = plan.to_stop[0], plan.to_stop[1:]
                self.state = replace(self.state, plan=Plan(rest_stop, plan.to_start))
                if child_id in state.ids and state.status(child_id) is ChildStatus.RUNNING:
                    self.set_status(child_id, ChildStatus.STOPPING)
                    self.commands.append(StopChild(child_id))
                    return self
                continue
            if plan.to_start:
                child_id, rest_start = plan.to_start[0], plan.to_start[1:]
                self.state = replace(self.state, plan=Plan(plan.to_stop, rest_start))
                if child_id in state.ids and state.status(child_id) is ChildStatus.STOPPED:
                    self.set_status(child_id, ChildStatus.STARTING)
                    self.commands.append(StartChild(child_id))
                    return self
                continue
            self.finish_plan()

    def finish_plan(self) -> None:
        phase = self.state.phase
        self.state = replace(self.state, plan=None)
        if phase is Phase.STOPPING:
            self.state = replace(self.state, phase=Phase.STOPPED)
            self.commands.append(ExitNormally())
        elif phase is Phase.ESCALATING:
            self.state = replace(self.state, phase=Phase.ESCALATED)
            self.commands.append(Escalate(self.state.escalation))
        else:
            self.state = replace(self.state, phase=Phase.RUNNING)


# --- event handlers: one per event type ---


def _expect(run: _Run, event: ChildEvent, *allowed: ChildStatus) -> Child:
    state = run.state
    if state.phase in _TERMINAL:
        raise InvalidTransition(f"{event!r} after the supervisor {state.phase.value}")
    child = state.child(event.child)
    if child.status not in allowed:
        raise InvalidTransition(
            f"{event!r} is not valid while child {child.id!r} is {child.status.value} "
            f"(supervisor {state.phase.value})"
        )
    return child


def _on_started(run: _Run, event: ChildStarted) -> None:
    _expect(run, event, ChildStatus.STARTING)
    run.set_status(event.child, ChildStatus.RUNNING, started=True)


def _on_start_failed(run: _Run, event: ChildStartFailed) -> None:
    child = _expect(run, event, ChildStatus.STARTING)
    run.set_status(child.id, ChildStatus.STOPPED)
    why = f"child {child.id!r} failed to start" + (f": {event.reason}" if event.reason else "")
    if child.id in run.state.removing:
        run.forget(child.id)
    elif run.state.phase in _SHUTTING_DOWN:
        pass  # it is down, which is what shutting down wants
    elif run.state.phase is Phase.STARTING and not child.started_once:
        run.shut_down(Phase.ESCALATING, why)
    elif not child.started_once:
        run.forget(child.id)  # an added child that never came up
    elif run.count_restart(why):
        plan = run.state.plan or Plan()
        run.state = replace(run.state, plan=Plan(plan.to_stop, (child.id, *plan.to_start)))


def _on_exited(run: _Run, event: ChildExited) -> None:
    child = _expect(run, event, ChildStatus.RUNNING, ChildStatus.STOPPING)
    state = run.state
    if child.status is ChildStatus.STOPPING:
        run.child_went_down(child.id)
        return
    run.set_status(child.id, ChildStatus.STOPPED)
    if state.phase in _SHUTTING_DOWN:
        if child.id in state.removing or child.spec.restart is Restart.TEMPORARY:
            run.forget(child.id)
    elif state.plan is not None and child.id in state.plan.to_stop:
        if child.id in state.removing:
            run.forget(child.id)  # the plan was stopping it anyway; it restarts if planned
    elif state.plan is not None:
        run.state = replace(run.state, deferred=(*state.deferred, event))
    else:
        run.child_failed(event)


def _on_stopped(run: _Run, event: ChildStopped) -> None:
    _expect(run, event, ChildStatus.STOPPING)
    run.child_went_down(event.child)


def _on_stop_requested(run: _Run) -> None:
    if run.state.phase in _ACCEPTS_CHANGES:
        run.shut_down(Phase.STOPPING)


def _expect_changes(run: _Run, event: AddChild | RemoveChild) -> None:
    if run.state.phase not in _ACCEPTS_CHANGES:
        raise InvalidTransition(f"{event!r} while the supervisor is {run.state.phase.value}")


def _on_add(run: _Run, event: AddChild) -> None:
    _expect_changes(run, event)
    _check_unique((*run.state.ids, event.spec.id))
    plan = run.state.plan or Plan()
    run.state = replace(
        run.state,
        children=(*run.state.children, Child(event.spec)),
        plan=Plan(plan.to_stop, (*plan.to_start, event.spec.id)),
    )


def _on_remove(run: _Run, event: RemoveChild) -> None:
    _expect_changes(run, event)
    child = run.state.child(event.child)
    if child.status is ChildStatus.STOPPED:
        run.forget(child.id)
        return
    plan = run.state.plan or Plan()
    to_stop = set(plan.to_stop) | (
        {child.id} if child.status is not ChildStatus.STOPPING else set()
    )
    run.state = replace(
        run.state,
        removing=run.state.removing | {child.id},
        # keep the stops in reverse start order
        plan=Plan(
            tuple(i for i in reversed(run.state.ids) if i in to_stop),
            tuple(i for i in plan.to_start if i != child.id),
        ),
    )
