"""The supervisor shell over real actor systems: restarts by strategy, escalation, nesting, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.actor import (
    Actor,
    Child,
    ChildSpec,
    Intensity,
    Message,
    RemoteError,
    Restart,
    Strategy,
    Supervisor,
    SupervisorEscalated,
    behavior,
)
from nunet.actor.events import (
    ActorFailed,
    ActorStarted,
    ActorStopped,
    ChildRestarted,
    SupervisorEscalation,
)
from nunet.network import InMemoryNetwork
from tests.support.actors import NodeUnderTest, running_node, wait_for_event


class Worker(Actor):
    kind = "worker"
    made: list[str]

    def __init__(self, name: str, journal: list[str]) -> None:
        super().__init__()
        self.name = name
        self.journal = journal
        journal.append(f"make {name}")

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.name}")

    @behavior("/dms/worker/crash")
    async def crash(self, message: Message) -> None:
        raise RuntimeError(f"{self.name} crashed")

    @behavior("/dms/worker/ping")
    async def ping(self, message: Message) -> str:
        return self.name


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[NodeUnderTest]:
    async with running_node(InMemoryNetwork(), tmp_path) as running:
        yield running


def workers(journal: list[str], *names: str, restart: Restart = Restart.PERMANENT) -> list[Child]:
    return [
        Child(ChildSpec(name, restart), lambda name=name: Worker(name, journal))  # type: ignore[misc]
        for name in names
    ]


async def crash(node: NodeUnderTest, child: str) -> None:
    caller = node.system.actor("caller")
    assert caller is not None
    with pytest.raises(RemoteError, match="internal"):
        await caller.invoke(node.system.handle_of(child), "/dms/worker/crash")


async def wait_restarted(node: NodeUnderTest, child: str, times: int = 1) -> None:
    seen = 0

    def matches(event: ChildRestarted) -> bool:
        nonlocal seen
        if event.child == child:
            seen += 1
        return seen >= times

    await wait_for_event(node.log, ChildRestarted, matches)
    # the restarted child is registered before the event is written
    assert child in node.system.actor_ids()


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        (Strategy.ONE_FOR_ONE, {"b"}),
        (Strategy.ALL_FOR_ONE, {"a", "b", "c"}),
        (Strategy.REST_FOR_ONE, {"b", "c"}),
    ],
)
async def test_a_crashed_child_is_restarted_by_strategy(
    node: NodeUnderTest, strategy: Strategy, restarted: set[str]
) -> None:
    journal: list[str] = []
    await node.system.spawn(Actor(), "caller")
    await node.system.spawn(Supervisor(strategy, workers(journal, "a", "b", "c")), "sup")
    assert journal == ["make a", "make b", "make c"]
    before = {c: node.system.actor(c) for c in "abc"}
    await crash(node, "b")
    await wait_restarted(node, "b")
    for name in restarted - {"b"}:
        await wait_restarted(node, name)
    after = {c: node.system.actor(c) for c in "abc"}
    assert {c for c in "abc" if after[c] is not before[c]} == restarted
    caller = node.system.actor("caller")
    assert caller is not None
    assert await caller.invoke(node.system.handle_of("b"), "/dms/worker/ping") == "b"
    if strategy is Strategy.ALL_FOR_ONE:
        # the survivors were stopped in reverse start order before anyone restarted
        assert journal[3:5] == ["stop c", "stop a"]


async def test_too_many_restarts_escalate_to_the_parent(node: NodeUnderTest) -> None:
    journal: list[str] = []
    exited: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def on_exit(actor_id: str, error: BaseException | None) -> None:
        exited.set_result(error)

    await node.system.spawn(Actor(), "caller")
    supervisor = Supervisor(
        Strategy.ONE_FOR_ONE, workers(journal, "a", "b"), intensity=Intensity(2, 60.0)
    )
    await node.system.spawn(supervisor, "sup", on_exit=on_exit)
    await crash(node, "a")
    await wait_restarted(node, "a", 1)
    await crash(node, "a")
    await wait_restarted(node, "a", 2)
    await crash(node, "a")
    error = await asyncio.wait_for(exited, 5)
    assert isinstance(error, SupervisorEscalated)
    _, escalation = await wait_for_event(node.log, SupervisorEscalation)
    assert escalation.supervisor == "sup"
    await wait_for_event(node.log, ActorStopped, lambda e: e.actor == "b")
    assert not {"a", "b", "sup"} & set(node.system.actor_ids())


async def test_a_sub_supervisor_that_gives_up_is_restarted_by_its_parent(
    node: NodeUnderTest,
) -> None:
    journal: list[str] = []
    await node.system.spawn(Actor(), "caller")
    inner = Child(
        ChildSpec("inner"),
        lambda: Supervisor(
            Strategy.ONE_FOR_ONE, workers(journal, "leaf"), intensity=Intensity(0, 60.0)
        ),
    )
    await node.system.spawn(
        Supervisor(Strategy.ONE_FOR_ONE, [inner], intensity=Intensity(3, 60.0)), "root"
    )
    first_leaf = node.system.actor("leaf")
    await crash(node, "leaf")  # intensity 0: the inner supervisor escalates at once
    await wait_restarted(node, "inner")
    starts = 0

    def second_start(event: ActorStarted) -> bool:
        nonlocal starts
        starts += event.actor == "leaf"
        return starts == 2

    await wait_for_event(node.log, ActorStarted, second_start)
    assert node.system.actor("leaf") is not first_leaf


async def test_temporary_children_are_not_restarted(node: NodeUnderTest) -> None:
    journal: list[str] = []
    await node.system.spawn(Actor(), "caller")
    supervisor = Supervisor(Strategy.ONE_FOR_ONE, workers(journal, "t", restart=Restart.TEMPORARY))
    await node.system.spawn(supervisor, "sup")
    await crash(node, "t")
    await wait_for_event(node.log, ActorFailed, lambda e: e.actor == "t")
    await asyncio.wait_for(supervisor.settled(), 5)
    assert "t" not in node.system.actor_ids()
    assert journal == ["make t"]
    assert supervisor.state is not None
    assert supervisor.state.ids == ()  # a temporary child is forgotten


async def test_stopping_a_supervisor_stops_children_in_reverse_order(node: NodeUnderTest) -> None:
    journal: list[str] = []
    await node.system.spawn(
        Supervisor(Strategy.ONE_FOR_ONE, workers(journal, "a", "b", "c")), "sup"
    )
    await node.system.stop("sup")
    assert journal[3:] == ["stop c", "stop b", "stop a"]
    assert node.system.actor_ids() == []
