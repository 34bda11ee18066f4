"""The supervision state machine: every event in every state, each strategy, intensity, escalation.

No event loop: a `Shell` stands in for the actor shell, feeding events and acknowledging commands.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.actor.supervision import (
    AddChild,
    ChildExited,
    ChildSpec,
    ChildStarted,
    ChildStartFailed,
    ChildStatus,
    ChildStopped,
    Command,
    DuplicateChild,
    Escalate,
    Event,
    ExitNormally,
    Intensity,
    InvalidTransition,
    Phase,
    RemoveChild,
    Restart,
    StartChild,
    StopChild,
    StopRequested,
    Strategy,
    Supervision,
    SupervisionError,
    SupervisorState,
    UnknownChild,
)
from nunet.errors import NunetError

CRASH = "boom"
STARTING, STOPPING = ChildStatus.STARTING, ChildStatus.STOPPING


def specs(*ids: str, restart: Restart = Restart.PERMANENT) -> tuple[ChildSpec, ...]:
    return tuple(ChildSpec(i, restart) for i in ids)


class Shell:
    """Plays the actor shell: feeds events at a time it controls and records the commands."""

    def __init__(self, supervision: Supervision, now: float = 0.0) -> None:
        self.supervision = supervision
        self.now = now
        self.state, commands = supervision.start(now)
        self.commands: list[Command] = list(commands)

    def feed(self, event: Event, at: float | None = None) -> list[Command]:
        if at is not None:
            self.now = at
        self.state, commands = self.supervision.step(self.state, event, self.now)
        self.commands.extend(commands)
        return list(commands)

    @property
    def in_flight(self) -> StartChild | StopChild | None:
        for child in self.state.children:
            if child.status is ChildStatus.STARTING:
                return StartChild(child.id)
            if child.status is ChildStatus.STOPPING:
                return StopChild(child.id)
        return None

    def settle(self) -> list[Command]:
        """Acknowledge every start and stop until nothing is in flight."""
        issued: list[Command] = []
        while (operation := self.in_flight) is not None:
            if isinstance(operation, StartChild):
                issued += self.feed(ChildStarted(operation.child))
            else:
                issued += self.feed(ChildStopped(operation.child))
        return issued

    def run(self, event: Event, at: float | None = None) -> list[Command]:
        """Feed `event`, then acknowledge everything it sets in motion."""
        return self.feed(event, at) + self.settle()

    def status(self) -> dict[str, ChildStatus]:
        return {child.id: child.status for child in self.state.children}


def running(
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    children: tuple[ChildSpec, ...] = specs("a", "b", "c", "d"),
    intensity: Intensity | None = None,
) -> Shell:
    shell = Shell(Supervision(strategy, intensity or Intensity(10, 5.0), children))
    shell.settle()
    assert shell.state.phase is Phase.RUNNING
    return shell


def crash(child: str) -> ChildExited:
    return ChildExited(child, normal=False, reason=CRASH)


# --- configuration ---


def test_a_child_id_must_be_a_non_empty_string() -> None:
    with pytest.raises(SupervisionError):
        ChildSpec("")


@pytest.mark.parametrize(("max_restarts", "period"), [(-1, 5.0), (3, 0.0), (3, -1.0)])
def test_intensity_must_be_sensible(max_restarts: int, period: float) -> None:
    with pytest.raises(SupervisionError):
        Intensity(max_restarts, period)


def test_child_ids_are_unique() -> None:
    with pytest.raises(DuplicateChild):
        Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "a"))


def test_supervision_errors_are_nunet_errors() -> None:
    assert issubclass(SupervisionError, NunetError)


def test_time_may_not_go_backwards() -> None:
    shell = running()
    shell.feed(crash("a"), at=10.0)
    with pytest.raises(SupervisionError, match="backwards"):
        shell.feed(ChildStarted("a"), at=9.0)


# --- startup ---


def test_children_start_one_at_a_time_in_order() -> None:
    shell = Shell(Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "b", "c")))
    assert shell.state.phase is Phase.STARTING
    assert shell.commands == [StartChild("a")]
    assert shell.status() == {
        "a": ChildStatus.STARTING,
        "b": ChildStatus.STOPPED,
        "c": ChildStatus.STOPPED,
    }
    shell.settle()
    assert shell.commands == [StartChild("a"), StartChild("b"), StartChild("c")]
    assert shell.state.phase is Phase.RUNNING
    assert set(shell.status().values()) == {ChildStatus.RUNNING}


def test_a_supervisor_without_children_is_running_at_once() -> None:
    state, commands = Supervision(Strategy.ONE_FOR_ONE).start(0.0)
    assert state.phase is Phase.RUNNING
    assert commands == ()


def test_a_child_failing_to_start_at_startup_escalates_after_stopping_the_started() -> None:
    shell = Shell(Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "b", "c", "d")))
    shell.feed(ChildStarted("a"))
    shell.feed(ChildStarted("b"))
    issued = shell.feed(ChildStartFailed("c", "port in use")) + shell.settle()
    assert issued[:2] == [StopChild("b"), StopChild("a")]
    assert isinstance(issued[2], Escalate)
    assert "'c' failed to start: port in use" in issued[2].reason
    assert shell.state.phase is Phase.ESCALATED
    assert "d" not in [c.child for c in issued if isinstance(c, StartChild)]


def test_a_child_exiting_during_startup_is_restarted_once_startup_is_done() -> None:
    shell = Shell(Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "b")))
    shell.feed(ChildStarted("a"))
    assert shell.feed(crash("a")) == []  # b is still starting
    assert shell.feed(ChildStarted("b")) == [StartChild("a")]
    assert shell.state.phase is Phase.RESTARTING
    shell.settle()
    assert shell.state.phase is Phase.RUNNING


# --- every event in every state ---

CHILD_EVENTS: dict[str, Callable[[str], Event]] = {
    "ChildStarted": ChildStarted,
    "ChildStartFailed": lambda c: ChildStartFailed(c, CRASH),
    "ChildExited(normal)": lambda c: ChildExited(c, normal=True),
    "ChildExited(abnormal)": crash,
    "ChildStopped": ChildStopped,
}

# The child half of the transition table in supervision.py: which statuses accept which events.
VALID_FOR_CHILD: dict[str, frozenset[ChildStatus]] = {
    "ChildStarted": frozenset({ChildStatus.STARTING}),
    "ChildStartFailed": frozenset({ChildStatus.STARTING}),
    "ChildExited(normal)": frozenset({ChildStatus.RUNNING, ChildStatus.STOPPING}),
    "ChildExited(abnormal)": frozenset({ChildStatus.RUNNING, ChildStatus.STOPPING}),
    "ChildStopped": frozenset({ChildStatus.STOPPING}),
}


def _scenarios() -> dict[str, tuple[Supervision, SupervisorState]]:
    """States covering every supervisor phase and, within them, every child status."""
    made: dict[str, tuple[Supervision, SupervisorState]] = {}

    def keep(name: str, shell: Shell) -> None:
        made[name] = (shell.supervision, shell.state)

    kids = (*specs("a", "b"), ChildSpec("t", Restart.TRANSIENT), *specs("c"))
    starting = Shell(Supervision(Strategy.ONE_FOR_ONE, Intensity(10, 5), kids))
    starting.feed(ChildStarted("a"))
    keep("starting", starting)  # a running, b starting, t and c stopped
    starting_removal = Shell(Supervision(Strategy.ONE_FOR_ONE, Intensity(10, 5), kids))
    starting_removal.feed(ChildStarted("a"))
    starting_removal.feed(RemoveChild("a"))
    starting_removal.feed(ChildStarted("b"))
    keep("starting, removing a child", starting_removal)  # a stopping

    idle = running(children=kids)
    idle.feed(ChildExited("t", normal=True))
    keep("running", idle)  # t stopped, the rest running
    adding = running(children=kids)
    adding.feed(AddChild(ChildSpec("e")))
    keep("running, adding a child", adding)  # e starting
    removing = running(children=kids)
    removing.feed(RemoveChild("b"))
    keep("running, removing a child", removing)  # b stopping

    stopping_phase = running(Strategy.ALL_FOR_ONE, kids)
    stopping_phase.feed(crash("b"))
    keep("restarting, stopping siblings", stopping_phase)  # c stopping, b stopped
    starting_phase = running(Strategy.ALL_FOR_ONE, kids)
    starting_phase.feed(crash("b"))
    for child in ("c", "t", "a"):
        starting_phase.feed(ChildStopped(child))
    keep("restarting, starting again", starting_phase)  # a starting, others stopped

    shutting = running(children=kids)
    shutting.feed(ChildExited("t", normal=True))
    shutting.feed(StopRequested())
    keep("stopping", shutting)  # c stopping, a and b running, t stopped
    shutting_early = Shell(Supervision(Strategy.ONE_FOR_ONE, Intensity(10, 5), kids))
    shutting_early.feed(ChildStarted("a"))
    shutting_early.feed(StopRequested())
    keep("stopping during startup", shutting_early)  # b still starting

    escalating = running(children=kids, intensity=Intensity(0, 5.0))
    escalating.feed(crash("a"))
    keep("escalating", escalating)  # a stopped, c stopping, b and t running

    stopped = running(children=kids)
    stopped.run(StopRequested())
    keep("stopped", stopped)
    escalated = running(children=kids, intensity=Intensity(0, 5.0))
    escalated.run(crash("a"))
    keep("escalated", escalated)
    return made


SCENARIOS = _scenarios()


def test_the_scenarios_cover_every_phase_and_every_child_status() -> None:
    phases = {state.phase for _, state in SCENARIOS.values()}
    assert phases == set(Phase)
    statuses = {
        (state.phase, child.status) for _, state in SCENARIOS.values() for child in state.children
    }
    for phase in (Phase.STARTING, Phase.RUNNING, Phase.RESTARTING, Phase.STOPPING):
        assert {status for p, status in statuses if p is phase} == set(ChildStatus)


CHILD_CASES = [
    pytest.param(name, child.id, event, id=f"{name}-{child.id}:{child.status.value}-{event}")
    for name, (_, state) in SCENARIOS.items()
    for child in state.children
    for event in CHILD_EVENTS
]


@pytest.mark.parametrize(("scenario", "child", "event"), CHILD_CASES)
def test_a_child_event_is_accepted_exactly_where_the_table_allows(
    scenario: str, child: str, event: str
) -> None:
    supervision, state = SCENARIOS[scenario]
    status = state.status(child)
    valid = state.phase not in (Phase.STOPPED, Phase.ESCALATED) and status in VALID_FOR_CHILD[event]
    if valid:
        after, _ = supervision.step(state, CHILD_EVENTS[event](child), 1.0)
        in_flight = [c for c in after.children if c.status in (STARTING, STOPPING)]
        assert len(in_flight) <= 1
    else:
        with pytest.raises(InvalidTransition):
            supervision.step(state, CHILD_EVENTS[event](child), 1.0)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("event", CHILD_EVENTS)
def test_a_child_event_for_an_unknown_child_is_refused(scenario: str, event: str) -> None:
    supervision, state = SCENARIOS[scenario]
    with pytest.raises((UnknownChild, InvalidTransition)):
        supervision.step(state, CHILD_EVENTS[event]("nobody"), 1.0)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stop_requested_is_accepted_in_every_phase(scenario: str) -> None:
    supervision, state = SCENARIOS[scenario]
    after, commands = supervision.step(state, StopRequested(), 1.0)
    if state.phase in (Phase.STARTING, Phase.RUNNING, Phase.RESTARTING):
        assert after.phase in (Phase.STOPPING, Phase.STOPPED)
    else:  # already on the way down, or down: nothing changes
        assert (after.phase, after.children, after.plan, commands) == (
            state.phase,
            state.children,
            state.plan,
            (),
        )


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("change", ["add", "remove"])
def test_children_change_only_while_the_supervisor_is_up(scenario: str, change: str) -> None:
    supervision, state = SCENARIOS[scenario]
    event: Event = AddChild(ChildSpec("new")) if change == "add" else RemoveChild("a")
    if state.phase in (Phase.STARTING, Phase.RUNNING, Phase.RESTARTING):
        after, _ = supervision.step(state, event, 1.0)
        assert ("new" in after.ids) if change == "add" else True
    else:
        with pytest.raises(InvalidTransition, match=state.phase.value):
            supervision.step(state, event, 1.0)


# --- strategies ---


def test_one_for_one_restarts_only_the_failed_child() -> None:
    shell = running(Strategy.ONE_FOR_ONE)
    assert shell.run(crash("b")) == [StartChild("b")]
    assert shell.state.phase is Phase.RUNNING


def test_all_for_one_stops_the_others_in_reverse_then_starts_all_in_order() -> None:
    shell = running(Strategy.ALL_FOR_ONE)
    assert shell.run(crash("b")) == [
        StopChild("d"),
        StopChild("c"),
        StopChild("a"),
        StartChild("a"),
        StartChild("b"),
        StartChild("c"),
        StartChild("d"),
    ]
    assert shell.state.restart_count == 1


def test_rest_for_one_stops_the_later_children_then_restarts_from_the_failed_one() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    assert shell.run(crash("b")) == [
        StopChild("d"),
        StopChild("c"),
        StartChild("b"),
        StartChild("c"),
        StartChild("d"),
    ]


def test_rest_for_one_on_the_last_child_restarts_just_it() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    assert shell.run(crash("d")) == [StartChild("d")]


def test_siblings_already_stopped_stay_stopped_in_all_for_one() -> None:
    kids = (*specs("a"), ChildSpec("t", Restart.TRANSIENT), *specs("c"))
    shell = running(Strategy.ALL_FOR_ONE, kids)
    shell.feed(ChildExited("t", normal=True))
    assert shell.run(crash("c")) == [StopChild("a"), StartChild("a"), StartChild("c")]
    assert shell.status()["t"] is ChildStatus.STOPPED


def test_temporary_siblings_stopped_by_a_restart_are_forgotten() -> None:
    kids = (*specs("a"), ChildSpec("tmp", Restart.TEMPORARY), *specs("c"))
    shell = running(Strategy.ALL_FOR_ONE, kids)
    assert shell.run(crash("a")) == [
        StopChild("c"),
        StopChild("tmp"),
        StartChild("a"),
        StartChild("c"),
    ]
    assert shell.state.ids == ("a", "c")


RESTART_DECISIONS = [
    (Restart.PERMANENT, True, True),
    (Restart.PERMANENT, False, True),
    (Restart.TRANSIENT, True, False),
    (Restart.TRANSIENT, False, True),
    (Restart.TEMPORARY, True, False),
    (Restart.TEMPORARY, False, False),
]


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize(("restart", "normal", "restarted"), RESTART_DECISIONS)
def test_the_restart_type_decides_whether_an_exited_child_is_restarted(
    strategy: Strategy, restart: Restart, normal: bool, restarted: bool
) -> None:
    shell = running(strategy, (*specs("a"), ChildSpec("x", restart), *specs("c")))
    commands = shell.run(ChildExited("x", normal=normal))
    assert (StartChild("x") in commands) is restarted
    if not restarted:
        assert commands == []  # siblings are not touched either
        assert shell.state.restart_count == 0
        assert ("x" in shell.state.ids) is (restart is not Restart.TEMPORARY)


# --- intensity ---


def crashes_at(shell: Shell, child: str, times: list[float]) -> None:
    for time in times:
        shell.run(crash(child), at=time)


@pytest.mark.parametrize(
    ("fourth_crash_at", "escalates"),
    [(4.0, True), (5.0, True), (5.001, False), (100.0, False)],
)
def test_more_than_max_restarts_within_the_period_escalates(
    fourth_crash_at: float, escalates: bool
) -> None:
    # 3 restarts in 5 s are allowed; one made exactly 5 s ago still counts, as in OTP.
    shell = running(intensity=Intensity(3, 5.0))
    crashes_at(shell, "a", [0.0, 1.0, 2.0])
    assert shell.state.phase is Phase.RUNNING
    shell.run(crash("a"), at=fourth_crash_at)
    assert (shell.state.phase is Phase.ESCALATED) is escalates


def test_a_steady_trickle_of_failures_under_the_intensity_never_escalates() -> None:
    shell = running(intensity=Intensity(3, 5.0))
    crashes_at(shell, "a", [2.0 * i for i in range(100)])
    assert shell.state.phase is Phase.RUNNING
    assert shell.state.restart_count == 100
    assert len(shell.state.restarts) <= 3


def test_zero_max_restarts_escalates_on_the_first_failure() -> None:
    shell = running(intensity=Intensity(0, 5.0))
    commands = shell.run(crash("b"))
    assert commands[:3] == [StopChild("d"), StopChild("c"), StopChild("a")]
    assert commands[3:] == [Escalate(shell.state.escalation)]
    assert "'b' exited abnormally: boom" in shell.state.escalation
    assert "1 restarts within 5 s exceed the intensity of 0" in shell.state.escalation


def test_escalation_stops_every_child_in_reverse_start_order_then_escalates() -> None:
    shell = running(Strategy.ALL_FOR_ONE, intensity=Intensity(1, 10.0))
    shell.run(crash("c"), at=1.0)
    commands = shell.run(crash("c"), at=2.0)
    assert commands == [
        StopChild("d"),
        StopChild("b"),
        StopChild("a"),
        Escalate(shell.state.escalation),
    ]
    assert shell.state.phase is Phase.ESCALATED
    assert set(shell.status().values()) == {ChildStatus.STOPPED}


def test_a_failed_restart_counts_as_a_restart_and_is_retried() -> None:
    shell = running(intensity=Intensity(2, 5.0))
    assert shell.feed(crash("b"), at=1.0) == [StartChild("b")]
    assert shell.feed(ChildStartFailed("b", "still broken"), at=1.1) == [StartChild("b")]
    assert shell.state.restart_count == 2
    commands = shell.feed(ChildStartFailed("b", "still broken"), at=1.2) + shell.settle()
    assert commands[-1] == Escalate(shell.state.escalation)
    assert "'b' failed to start: still broken" in shell.state.escalation


def test_a_failed_restart_keeps_the_start_order_of_the_plan() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    shell.feed(crash("b"))
    shell.feed(ChildStopped("d"))
    shell.feed(ChildStopped("c"))
    assert shell.feed(ChildStartFailed("b")) == [StartChild("b")]
    assert shell.settle() == [StartChild("c"), StartChild("d")]


# --- failures while a restart is in progress ---


def test_a_child_exiting_during_a_restart_is_dealt_with_afterwards() -> None:
    shell = running(Strategy.ONE_FOR_ONE)
    assert shell.feed(crash("a")) == [StartChild("a")]
    assert shell.feed(crash("c")) == []
    assert shell.feed(ChildStarted("a")) == [StartChild("c")]
    shell.settle()
    assert shell.state.restart_count == 2
    assert shell.state.phase is Phase.RUNNING


def test_a_child_exiting_while_the_restart_was_going_to_stop_it_is_absorbed() -> None:
    shell = running(Strategy.ALL_FOR_ONE)
    assert shell.feed(crash("b")) == [StopChild("d")]
    shell.feed(crash("a"))  # a was next to be stopped anyway
    assert shell.settle() == [
        StopChild("c"),
        StartChild("a"),
        StartChild("b"),
        StartChild("c"),
        StartChild("d"),
    ]
    assert shell.state.restart_count == 1


def test_an_exit_reported_instead_of_a_stop_is_taken_as_the_stop() -> None:
    shell = running(Strategy.ALL_FOR_ONE)
    shell.feed(crash("b"))
    assert shell.feed(crash("d")) == [StopChild("c")]  # d was stopping; it went down anyway
    assert shell.state.restart_count == 1


def test_rest_for_one_handles_an_earlier_child_exit_after_the_current_restart() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    shell.feed(crash("c"))  # stops d, then restarts c, d
    assert shell.feed(crash("a")) == []
    assert shell.settle() == [
        StartChild("c"),
        StartChild("d"),
        StopChild("d"),
        StopChild("c"),
        StopChild("b"),
        StartChild("a"),
        StartChild("b"),
        StartChild("c"),
        StartChild("d"),
    ]
    assert shell.state.restart_count == 2


# --- shutdown ---


def test_stop_requested_stops_children_in_reverse_order_then_exits_normally() -> None:
    shell = running()
    assert shell.run(StopRequested()) == [
        StopChild("d"),
        StopChild("c"),
        StopChild("b"),
        StopChild("a"),
        ExitNormally(),
    ]
    assert shell.state.phase is Phase.STOPPED


def test_stop_requested_during_startup_waits_for_the_child_being_started() -> None:
    shell = Shell(Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "b", "c")))
    shell.feed(ChildStarted("a"))
    assert shell.feed(StopRequested()) == []  # b is starting
    assert shell.feed(ChildStarted("b")) == [StopChild("b")]
    assert shell.settle() == [StopChild("a"), ExitNormally()]


def test_stop_requested_during_a_restart_drops_the_rest_of_the_restart() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    shell.feed(crash("b"))  # d stopping
    shell.feed(StopRequested())
    assert shell.settle() == [StopChild("c"), StopChild("a"), ExitNormally()]


def test_a_child_that_exits_during_shutdown_is_not_restarted() -> None:
    shell = running()
    shell.feed(StopRequested())  # d stopping
    shell.feed(crash("b"))
    assert shell.settle() == [StopChild("c"), StopChild("a"), ExitNormally()]


def test_a_child_that_fails_to_start_during_shutdown_is_just_down() -> None:
    shell = Shell(Supervision(Strategy.ONE_FOR_ONE, children=specs("a", "b")))
    shell.feed(ChildStarted("a"))
    shell.feed(StopRequested())
    assert shell.feed(ChildStartFailed("b")) + shell.settle() == [StopChild("a"), ExitNormally()]


# --- children added and removed at run time ---


def test_an_added_child_starts_last_and_joins_later_restarts() -> None:
    shell = running(Strategy.REST_FOR_ONE, specs("a", "b"))
    assert shell.run(AddChild(ChildSpec("c"))) == [StartChild("c")]
    assert shell.state.ids == ("a", "b", "c")
    assert shell.run(crash("b")) == [StopChild("c"), StartChild("b"), StartChild("c")]


def test_adding_a_child_with_a_taken_id_is_refused() -> None:
    shell = running()
    with pytest.raises(DuplicateChild):
        shell.feed(AddChild(ChildSpec("a")))


def test_an_added_child_that_never_starts_is_forgotten_without_escalating() -> None:
    shell = running(intensity=Intensity(0, 5.0))
    shell.feed(AddChild(ChildSpec("e")))
    assert shell.feed(ChildStartFailed("e", "no image")) == []
    assert "e" not in shell.state.ids
    assert shell.state.phase is Phase.RUNNING


def test_adding_during_a_restart_starts_the_child_after_the_restart() -> None:
    shell = running(Strategy.ALL_FOR_ONE, specs("a", "b"))
    assert shell.feed(crash("a")) == [StopChild("b")]
    assert shell.feed(AddChild(ChildSpec("c"))) == []
    assert shell.settle() == [StartChild("a"), StartChild("b"), StartChild("c")]


def test_removing_a_running_child_stops_then_forgets_it() -> None:
    shell = running()
    assert shell.run(RemoveChild("b")) == [StopChild("b")]
    assert shell.state.ids == ("a", "c", "d")
    assert shell.state.phase is Phase.RUNNING


def test_removing_a_stopped_child_forgets_it_at_once() -> None:
    shell = running(children=(*specs("a"), ChildSpec("t", Restart.TRANSIENT)))
    shell.feed(ChildExited("t", normal=True))
    assert shell.feed(RemoveChild("t")) == []
    assert shell.state.ids == ("a",)


def test_removing_a_child_awaiting_restart_cancels_its_restart() -> None:
    shell = running(Strategy.REST_FOR_ONE)
    shell.feed(crash("b"))  # d stopping, then c; then b, c, d start
    shell.feed(RemoveChild("c"))
    assert shell.settle() == [StopChild("c"), StartChild("b"), StartChild("d")]
    assert shell.state.ids == ("a", "b", "d")


def test_removing_a_starting_child_stops_it_once_it_is_up() -> None:
    shell = running()
    shell.feed(AddChild(ChildSpec("e")))
    assert shell.feed(RemoveChild("e")) == []
    assert shell.feed(ChildStarted("e")) == [StopChild("e")]
    shell.settle()
    assert "e" not in shell.state.ids


def test_removing_an_unknown_child_is_refused() -> None:
    with pytest.raises(UnknownChild, match="nobody"):
        running().feed(RemoveChild("nobody"))


# --- random failure sequences ---

ACTIONS = st.sampled_from(
    ["ack", "ack", "ack", "fail-op", "crash", "crash", "exit", "stop", "add", "remove"]
)


@st.composite
def supervisors(draw: st.DrawFn) -> Supervision:
    restart = st.sampled_from(list(Restart))
    count = draw(st.integers(1, 5))
    children = tuple(ChildSpec(f"c{i}", draw(restart)) for i in range(count))
    intensity = Intensity(draw(st.integers(0, 4)), draw(st.sampled_from([1.0, 2.5, 5.0])))
    return Supervision(draw(st.sampled_from(list(Strategy))), intensity, children)


def _positions_strictly(ids: list[str], order: list[str], descending: bool) -> bool:
    positions = [order.index(i) for i in ids]
    pairs = itertools.pairwise(positions)
    return all(x > y for x, y in pairs) if descending else all(x < y for x, y in pairs)


@settings(max_examples=300, deadline=None)
@given(
    supervisors(),
    st.lists(
        st.tuples(ACTIONS, st.integers(0, 9), st.sampled_from([0.0, 0.1, 0.5, 2.0])), max_size=60
    ),
    st.booleans(),
)
def test_random_failures_keep_the_invariants(
    supervision: Supervision,
    script: list[tuple[str, int, float]],
    with_changes: bool,
) -> None:
    shell = Shell(supervision)
    alive: set[str] = set()  # what the shell has running, as it sees it
    restart_times: list[float] = []
    added = 0

    def check(commands: list[Command], state_before: SupervisorState) -> None:
        state = shell.state
        operations = [c for c in commands if isinstance(c, (StartChild, StopChild))]
        assert len(operations) <= 1, "one start or stop in flight at a time"
        for command in operations:
            if isinstance(command, StartChild):
                assert command.child not in alive, "never start a running child"
            else:
                assert command.child in alive, "never stop a child that is not running"
        new_restarts = state.restart_count - state_before.restart_count
        restart_times.extend([shell.now] * new_restarts)
        intensity = supervision.intensity
        window = [t for t in restart_times if t >= shell.now - intensity.period]
        if len(window) > intensity.max_restarts:
            assert state.phase in (Phase.ESCALATING, Phase.ESCALATED)
        if state.phase in (Phase.STOPPED, Phase.ESCALATED):
            assert not alive

    for action, pick, delay in script:
        if shell.state.phase in (Phase.STOPPED, Phase.ESCALATED):
            break
        shell.now += delay
        before = shell.state
        operation = shell.in_flight
        running_ids = sorted(alive - ({operation.child} if operation else set()))
        event: Event | None = None
        if action in ("ack", "fail-op") and operation is not None:
            if isinstance(operation, StartChild):
                event = (ChildStarted if action == "ack" else ChildStartFailed)(operation.child)
            else:
                event = ChildStopped(operation.child) if action == "ack" else crash(operation.child)
        elif action in ("crash", "exit") and running_ids:
            child = running_ids[pick % len(running_ids)]
            event = ChildExited(child, normal=action == "exit")
        elif action == "stop":
            event = StopRequested()
        elif (
            with_changes
            and action == "add"
            and shell.state.phase
            in (
                Phase.STARTING,
                Phase.RUNNING,
                Phase.RESTARTING,
            )
        ):
            added += 1
            event = AddChild(ChildSpec(f"new{added}", Restart.PERMANENT))
        elif (
            with_changes
            and action == "remove"
            and shell.state.phase
            in (
                Phase.STARTING,
                Phase.RUNNING,
                Phase.RESTARTING,
            )
        ):
            ids = shell.state.ids
            if ids:
                event = RemoveChild(ids[pick % len(ids)])
        if event is None:
            continue
        commands = shell.feed(event)
        if isinstance(event, ChildStarted):
            alive.add(event.child)
        elif isinstance(event, (ChildStopped, ChildExited)):
            alive.discard(event.child)
        check(commands, before)

    # Drive whatever is in flight to completion: the machine settles with no work left.
    while (operation := shell.in_flight) is not None:
        before = shell.state
        if isinstance(operation, StartChild):
            commands = shell.feed(ChildStarted(operation.child))
            alive.add(operation.child)
        else:
            commands = shell.feed(ChildStopped(operation.child))
            alive.discard(operation.child)
        check(commands, before)
    state = shell.state
    assert state.plan is None
    assert state.phase in (Phase.RUNNING, Phase.STOPPED, Phase.ESCALATED)
    assert alive == {c.id for c in state.children if c.status is ChildStatus.RUNNING}
    if state.phase is Phase.RUNNING:
        for child in state.children:
            if child.spec.restart is Restart.PERMANENT:
                assert child.status is ChildStatus.RUNNING


@settings(max_examples=200, deadline=None)
@given(supervisors(), st.lists(st.integers(0, 9), min_size=1, max_size=8), st.booleans())
def test_stops_run_in_reverse_start_order_and_starts_in_start_order(
    supervision: Supervision, crashes: list[int], end_with_stop: bool
) -> None:
    shell = Shell(supervision)
    shell.settle()
    order = list(shell.state.ids)
    for pick in crashes:
        running_ids = [c.id for c in shell.state.children if c.status is ChildStatus.RUNNING]
        if shell.state.phase is not Phase.RUNNING or not running_ids:
            break
        commands = shell.run(crash(running_ids[pick % len(running_ids)]))
        stops = [c.child for c in commands if isinstance(c, StopChild)]
        starts = [c.child for c in commands if isinstance(c, StartChild)]
        assert _positions_strictly(stops, order, descending=True)
        assert _positions_strictly(starts, order, descending=False)
        if starts:  # a restart stops everything it stops before it starts anything
            last_stop = max((commands.index(StopChild(s)) for s in stops), default=-1)
            assert last_stop < commands.index(StartChild(starts[0]))
    if end_with_stop and shell.state.phase is Phase.RUNNING:
        commands = shell.run(StopRequested())
        stops = [c.child for c in commands if isinstance(c, StopChild)]
        assert _positions_strictly(stops, order, descending=True)
        assert commands[-1] == ExitNormally()
