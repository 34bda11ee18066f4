"""The supervision tree: startup order, every strategy, escalation through nested supervisors,
shutdown, bad specs, and random event streams (Hypothesis)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.actor.supervision import ChildStatus, InvalidTransition, Phase, Restart, Strategy
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
    TreeError,
    TreeSpec,
    TreeStopped,
)

ONE, ALL, REST = Strategy.ONE_FOR_ONE, Strategy.ALL_FOR_ONE, Strategy.REST_FOR_ONE


class Driver:
    """Feeds a tree and answers its commands the way healthy allocations would."""

    def __init__(self, spec: TreeSpec, restarts: dict[str, str] | None = None) -> None:
        self.tree = SupervisionTree.build(spec, restarts)
        self.now = 0.0

    def start(self) -> list[TreeCommand]:
        self.tree, commands = self.tree.start(self.now)
        return list(commands)

    def feed(self, event: LeafEvent, *, at: float | None = None) -> list[TreeCommand]:
        self.now = self.now if at is None else at
        self.tree, commands = self.tree.step(event, self.now)
        return list(commands)

    def settle(self, commands: list[TreeCommand]) -> list[TreeCommand]:
        """Answer every start and stop with success until the tree asks for nothing more;
        return every command it gave, in order."""
        seen: list[TreeCommand] = []
        pending = deque(commands)
        while pending:
            command = pending.popleft()
            seen.append(command)
            if isinstance(command, StartAllocation):
                pending.extend(self.feed(AllocationStarted(command.allocation)))
            elif isinstance(command, StopAllocation):
                pending.extend(self.feed(AllocationStopped(command.allocation)))
        return seen

    def stop(self, at: float) -> list[TreeCommand]:
        self.now = at
        self.tree, commands = self.tree.stop(at)
        return list(commands)

    def up(self) -> list[TreeCommand]:
        return self.settle(self.start())

    def running(self) -> list[str]:
        return [
            leaf for leaf in self.tree.leaves if self.tree.leaf_status(leaf) is ChildStatus.RUNNING
        ]


def starts(commands: list[TreeCommand]) -> list[str]:
    return [c.allocation for c in commands if isinstance(c, StartAllocation)]


def stops(commands: list[TreeCommand]) -> list[str]:
    return [c.allocation for c in commands if isinstance(c, StopAllocation)]


def leaf_commands(commands: list[TreeCommand]) -> list[tuple[str, str]]:
    return [
        ("start" if isinstance(c, StartAllocation) else "stop", c.allocation)
        for c in commands
        if isinstance(c, StartAllocation | StopAllocation)
    ]


# --- startup ---


def test_leaves_start_one_at_a_time_in_order() -> None:
    driver = Driver(TreeSpec(ONE, ("a", "b", "c")))
    assert driver.start() == [StartAllocation("a")]
    assert driver.feed(AllocationStarted("a")) == [StartAllocation("b")]
    assert driver.feed(AllocationStarted("b")) == [StartAllocation("c")]
    assert driver.feed(AllocationStarted("c")) == []
    assert driver.tree.phase is Phase.RUNNING


def test_nested_supervisors_start_depth_first_in_order() -> None:
    spec = TreeSpec(ONE, ("a", TreeSpec(ALL, ("x", TreeSpec(REST, ("p", "q")), "y")), "b"))
    driver = Driver(spec)
    assert driver.tree.leaves == ("a", "x", "p", "q", "y", "b")
    assert starts(driver.up()) == ["a", "x", "p", "q", "y", "b"]
    assert driver.running() == list(driver.tree.leaves)
    assert driver.tree.supervisor("1/1").phase is Phase.RUNNING
    assert driver.tree.leaves_under("1") == ("x", "p", "q", "y")


def test_a_leaf_that_fails_to_start_at_startup_fails_the_tree_after_stopping_the_rest() -> None:
    driver = Driver(TreeSpec(ONE, ("a", "b", "c")))
    assert driver.start() == [StartAllocation("a")]
    assert driver.feed(AllocationStarted("a")) == [StartAllocation("b")]
    failed = driver.feed(AllocationStartFailed("b", "image not found"))
    assert failed == [StopAllocation("a")]
    done = driver.feed(AllocationStopped("a"))
    assert done == [Escalated("", "child 'b' failed to start: image not found")]
    assert done[0].is_root  # type: ignore[union-attr]
    assert driver.tree.phase is Phase.ESCALATED


def test_an_empty_sub_supervisor_counts_as_started_at_once() -> None:
    driver = Driver(TreeSpec(ONE, (TreeSpec(ONE, (), name="empty"), "a")))
    assert starts(driver.up()) == ["a"]
    assert driver.tree.supervisor("empty").phase is Phase.RUNNING


# --- strategies ---


def test_one_for_one_restarts_only_the_crashed_leaf() -> None:
    driver = Driver(TreeSpec(ONE, ("a", "b", "c")))
    driver.up()
    commands = driver.feed(AllocationExited("b", normal=False, reason="exit 1"), at=1)
    assert commands == [
        Restarted("", ("b",), ONE, "allocation b exited abnormally: exit 1"),
        StartAllocation("b"),
    ]


def test_all_for_one_stops_the_others_in_reverse_then_starts_all_in_order() -> None:
    driver = Driver(TreeSpec(ALL, ("a", "b", "c")))
    driver.up()
    commands = driver.settle(driver.feed(AllocationExited("b", normal=False), at=1))
    assert commands[0] == Restarted("", ("a", "b", "c"), ALL, "allocation b exited abnormally")
    assert leaf_commands(commands) == [
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]
    assert driver.running() == ["a", "b", "c"]


def test_rest_for_one_restarts_the_crashed_leaf_and_those_after_it() -> None:
    driver = Driver(TreeSpec(REST, ("a", "b", "c", "d")))
    driver.up()
    commands = driver.settle(driver.feed(AllocationExited("b", normal=False), at=1))
    assert commands[0] == Restarted("", ("b", "c", "d"), REST, "allocation b exited abnormally")
    assert leaf_commands(commands) == [
        ("stop", "d"),
        ("stop", "c"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]


@pytest.mark.parametrize(
    ("restart", "normal", "restarted"),
    [
        ("transient", True, False),
        ("transient", False, True),
        ("temporary", False, False),
        ("permanent", True, True),
    ],
)
def test_restart_types_decide_whether_an_ended_leaf_comes_back(
    restart: str, normal: bool, restarted: bool
) -> None:
    driver = Driver(TreeSpec(ONE, ("job", "other")), {"job": restart})
    driver.up()
    commands = driver.feed(AllocationExited("job", normal=normal), at=1)
    assert (StartAllocation("job") in commands) is restarted


def test_leaves_are_transient_unless_told() -> None:
    driver = Driver(TreeSpec(ONE, ("task",)))
    driver.up()
    assert driver.feed(AllocationExited("task", normal=True)) == []
    assert driver.tree.leaf_status("task") is ChildStatus.STOPPED


def test_a_restart_that_fails_to_start_is_retried_and_counted() -> None:
    driver = Driver(TreeSpec(ONE, ("a",), max_restarts=2, period_seconds=60))
    driver.up()
    assert starts(driver.feed(AllocationExited("a", normal=False), at=1)) == ["a"]
    retry = driver.feed(AllocationStartFailed("a", "pull failed"), at=2)
    assert retry == [
        Restarted("", ("a",), ONE, "allocation a failed to start: pull failed"),
        StartAllocation("a"),
    ]
    gave_up = driver.feed(AllocationStartFailed("a", "pull failed"), at=3)
    assert [type(c) for c in gave_up] == [Escalated]


# --- intensity and escalation ---


def test_exceeding_a_sub_supervisors_intensity_escalates_to_its_parent_which_restarts_it() -> None:
    spec = TreeSpec(
        ONE, ("a", TreeSpec(ALL, ("x", "y"), max_restarts=1, period_seconds=10, name="pair"))
    )
    driver = Driver(spec)
    driver.up()
    first = driver.settle(driver.feed(AllocationExited("x", normal=False), at=1))
    assert first[0] == Restarted("pair", ("x", "y"), ALL, "allocation x exited abnormally")
    second = driver.settle(driver.feed(AllocationExited("x", normal=False, reason="boom"), at=2))
    escalation = next(c for c in second if isinstance(c, Escalated))
    assert escalation.path == "pair"
    assert "2 restarts within 10 s exceed the intensity of 1" in escalation.reason
    assert not escalation.is_root
    restart = next(c for c in second if isinstance(c, Restarted))
    assert (restart.path, restart.allocations, restart.strategy) == ("", ("x", "y"), ONE)
    assert restart.why.startswith("supervisor pair exited abnormally: ")
    # the pair was stopped (y, as x was already down) and started afresh, a untouched
    assert leaf_commands(second) == [("stop", "y"), ("start", "x"), ("start", "y")]
    assert driver.running() == ["a", "x", "y"]
    assert driver.tree.supervisor("pair").restart_count == 0  # a fresh supervisor


def test_restarts_outside_the_period_do_not_add_up() -> None:
    driver = Driver(TreeSpec(ONE, ("a",), max_restarts=1, period_seconds=10))
    driver.up()
    for at in (1.0, 12.0, 24.0):
        commands = driver.settle(driver.feed(AllocationExited("a", normal=False), at=at))
        assert not [c for c in commands if isinstance(c, Escalated)]


def test_three_levels_escalate_up_to_the_first_supervisor_that_can_restart() -> None:
    inner = TreeSpec(ONE, ("leaf",), max_restarts=0, name="inner")
    middle = TreeSpec(REST, (inner, "sibling"), max_restarts=0, name="middle")
    spec = TreeSpec(ONE, ("first", middle), max_restarts=5)
    driver = Driver(spec)
    driver.up()
    commands = driver.settle(driver.feed(AllocationExited("leaf", normal=False), at=1))
    escalations = [c.path for c in commands if isinstance(c, Escalated)]
    assert escalations == ["middle/inner", "middle"]
    restarted = [c for c in commands if isinstance(c, Restarted)]
    assert [(r.path, r.allocations) for r in restarted] == [("", ("leaf", "sibling"))]
    assert leaf_commands(commands) == [("stop", "sibling"), ("start", "leaf"), ("start", "sibling")]
    assert driver.running() == ["first", "leaf", "sibling"]


def test_escalation_at_the_root_stops_everything_then_fails_the_deployment() -> None:
    spec = TreeSpec(ONE, ("a", TreeSpec(ONE, ("b", "c"), max_restarts=0)), max_restarts=0)
    driver = Driver(spec)
    driver.up()
    commands = driver.settle(driver.feed(AllocationExited("b", normal=False), at=1))
    assert [c.path for c in commands if isinstance(c, Escalated)] == ["1", ""]
    assert stops(commands) == ["c", "a"]
    assert isinstance(commands[-1], Escalated)
    assert commands[-1].is_root
    assert driver.running() == []
    assert driver.tree.phase is Phase.ESCALATED


# --- shutdown ---


def test_stop_stops_every_leaf_in_reverse_start_order_then_reports_stopped() -> None:
    driver = Driver(TreeSpec(ONE, ("a", TreeSpec(ALL, ("x", "y")), "b")))
    driver.up()
    commands = driver.settle(driver.stop(1))
    assert stops(commands) == ["b", "y", "x", "a"]
    assert commands[-1] == TreeStopped()
    assert driver.tree.phase is Phase.STOPPED


def test_a_leaf_that_crashes_while_stopping_counts_as_stopped() -> None:
    driver = Driver(TreeSpec(ONE, ("a", "b")))
    driver.up()
    assert driver.stop(1) == [StopAllocation("b")]
    assert driver.feed(AllocationExited("b", normal=False)) == [StopAllocation("a")]
    assert driver.feed(AllocationStopped("a")) == [TreeStopped()]


# --- bad specs and bad driving ---


@pytest.mark.parametrize(
    ("spec", "restarts", "message"),
    [
        (TreeSpec(ONE, ("a", TreeSpec(ONE, ("a",)))), {}, "'a' appears twice"),
        (TreeSpec(ONE, ("a",)), {"b": "permanent"}, "not in the tree: ['b']"),
        (TreeSpec(ONE, ("a",)), {"a": "sometimes"}, "'sometimes' is not one of"),
        (TreeSpec(ONE, ("a",), max_restarts=-1), {}, "supervisor root: max_restarts"),
        (TreeSpec(ONE, (TreeSpec(ONE, ("a",), period_seconds=0, name="s"),)), {}, "s: the int"),
        (TreeSpec(ONE, ("a/b",)), {}, "not a leaf name"),
        (TreeSpec(ONE, (TreeSpec(ONE, (), name="x/y"),)), {}, "cannot contain '/'"),
        (TreeSpec(ONE, ("a", TreeSpec(ONE, (), name="a"))), {}, "two children are named 'a'"),
    ],
)
def test_a_bad_spec_is_refused_naming_what_is_wrong(
    spec: TreeSpec, restarts: dict[str, str], message: str
) -> None:
    with pytest.raises(TreeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SupervisionTree.build(spec, restarts)


def test_driving_it_wrongly_is_a_clear_error() -> None:
    tree = SupervisionTree.build(TreeSpec(ONE, ("a",)), {"a": Restart.PERMANENT})
    with pytest.raises(TreeError, match="not running"):
        tree.step(AllocationStarted("a"), 0)
    with pytest.raises(TreeError, match="never started"):
        tree.stop(0)
    tree, _ = tree.start(0)
    with pytest.raises(TreeError, match="already started"):
        tree.start(0)
    with pytest.raises(InvalidTransition):
        tree.step(AllocationStopped("a"), 0)
    with pytest.raises(TreeError, match="no allocation 'ghost'"):
        tree.step(AllocationStarted("ghost"), 0)
    with pytest.raises(TreeError, match="no started supervisor"):
        tree.supervisor("nope")


# --- properties ---

SHAPES = st.sampled_from(
    [
        TreeSpec(ONE, ("a", "b", "c"), max_restarts=2, period_seconds=5),
        TreeSpec(ALL, ("a", TreeSpec(REST, ("b", "c"), max_restarts=1), "d"), max_restarts=3),
        TreeSpec(
            REST,
            (TreeSpec(ALL, ("a", TreeSpec(ONE, ("b",), max_restarts=0))), "c"),
            max_restarts=1,
            period_seconds=3,
        ),
    ]
)
RESTARTS = st.sampled_from(["permanent", "transient", "temporary"])


@settings(max_examples=200, deadline=None)
@given(shape=SHAPES, data=st.data())
def test_random_streams_only_name_known_leaves_and_never_start_a_live_one(
    shape: TreeSpec, data: st.DataObject
) -> None:
    leaves = SupervisionTree.build(shape).leaves
    restarts = {leaf: data.draw(RESTARTS, label=f"restart {leaf}") for leaf in leaves}
    tree = SupervisionTree.build(shape, restarts)
    live: dict[str, str] = {}  # leaf -> starting | running | stopping, as the "machines" see it
    now = 0.0

    def carry_out(commands: tuple[TreeCommand, ...]) -> None:
        for command in commands:
            if isinstance(command, StartAllocation):
                assert command.allocation in leaves
                assert command.allocation not in live, f"started {command.allocation} twice"
                live[command.allocation] = "starting"
            elif isinstance(command, StopAllocation):
                assert live.get(command.allocation) == "running"
                live[command.allocation] = "stopping"
            elif isinstance(command, Restarted):
                assert set(command.allocations) <= set(leaves)
            elif isinstance(command, Escalated | TreeStopped) and (
                isinstance(command, TreeStopped) or command.is_root
            ):
                assert not live, f"the tree ended with {sorted(live)} still up"

    tree, first = tree.start(now)
    carry_out(first)
    stopped = False
    for _ in range(data.draw(st.integers(0, 60), label="steps")):
        if not live:
            break
        now += data.draw(st.sampled_from([0.0, 0.5, 2.0, 10.0]), label="dt")
        if not stopped and data.draw(st.integers(0, 30), label="stop?") == 0:
            stopped = True
            tree, commands = tree.stop(now)
            carry_out(commands)
            continue
        leaf = data.draw(st.sampled_from(sorted(live)), label="leaf")
        status = live[leaf]
        if status == "starting":
            ok = data.draw(st.integers(0, 4), label="started?") > 0  # mostly
            event: LeafEvent = AllocationStarted(leaf) if ok else AllocationStartFailed(leaf, "x")
            live[leaf] = "running"
            if not ok:
                del live[leaf]
        elif status == "running":
            event = AllocationExited(leaf, normal=data.draw(st.booleans(), label="normal?"))
            del live[leaf]
        else:
            event = AllocationStopped(leaf)
            del live[leaf]
        tree, commands = tree.step(event, now)
        carry_out(commands)
        # the tree agrees with the machines about who is up, and how far
        for name in leaves:
            assert tree.leaf_status(name).value == live.get(name, "stopped")
