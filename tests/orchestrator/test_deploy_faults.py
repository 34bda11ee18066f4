"""Bad input and faults at placement: a malformed ensemble names every problem's path, a
resubmission is idempotent by id, a machine that vanishes between its bid and the commit is
replaced by another bidder, and a commit that half fails reverts the half that succeeded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from nunet.actor import RemoteError
from nunet.capability.model import Requirement
from nunet.matching.round import RoundResult
from nunet.node import Node
from nunet.onboarding import ALLOCATE_BEHAVIOR, ONBOARDING_ACTOR_ID
from nunet.orchestrator.behaviors import DEPLOYMENTS_ACTOR_ID, NEW_BEHAVIOR
from nunet.orchestrator.events import CommitFailed, MatchingStarted, NodeReverted
from tests.orchestrator.swarm import (
    SMALL,
    WAIT,
    Swarm,
    ask,
    containers_of,
    deploy,
    events,
    free,
    history_of,
    settled,
    swarm,
    torn_down,
)

__all__ = ["swarm"]

BidRound = Callable[[Requirement, float], Awaitable[RoundResult]]

ONE_TASK = f"""
version: nunet/v1
name: once
allocations:
  work:
    execution: {{image: nunet-test/busybox:1, command: echo done}}
    {SMALL}
nodes:
  n1: {{allocations: [work]}}
"""

BROKEN = """
version: nunet/v1
name: broken
allocations:
  web:
    resources: {ram: 4 GB}
    execution: {command: echo}
nodes:
  n1: {allocations: [web, ghost]}
edges:
  - {between: [n1, nowhere], rtt: 10ms}
"""


def hook_bid_rounds(
    monkeypatch: pytest.MonkeyPatch,
    node: Node,
    after_first: Callable[[RoundResult], Awaitable[None]],
) -> None:
    """Run `after_first` on the first bid round's result, before the orchestrator sees it."""
    deployments = node.system.actor(DEPLOYMENTS_ACTOR_ID)
    original: BidRound = deployments._bid_round  # type: ignore[union-attr]
    rounds = 0

    async def hooked(requirement: Requirement, timeout: float) -> RoundResult:
        nonlocal rounds
        result = await original(requirement, timeout)
        rounds += 1
        if rounds == 1:
            await after_first(result)
        return result

    monkeypatch.setattr(deployments, "_bid_round", hooked)


async def test_a_malformed_ensemble_is_refused_naming_every_problem(swarm: Swarm) -> None:
    hub = await swarm.open("hub")
    with pytest.raises(RemoteError) as refused:
        await ask(hub, NEW_BEHAVIOR, {"ensemble": BROKEN})
    assert refused.value.code == "invalid-ensemble"
    paths = [line.split(": ")[0] for line in refused.value.remote_message.splitlines()]
    assert sorted(paths) == [
        "allocations.web.execution.image",
        "allocations.web.resources.ram",
        "edges[0].between[1]",
        "nodes.n1.allocations[1]",
    ], refused.value.remote_message


async def test_a_resubmission_with_the_same_id_answers_the_same_deployment(swarm: Swarm) -> None:
    hub = await swarm.open("hub")
    first = await ask(hub, NEW_BEHAVIOR, {"ensemble": ONE_TASK, "id": "nightly-1"})
    again = await ask(hub, NEW_BEHAVIOR, {"ensemble": ONE_TASK, "id": "nightly-1"})
    assert (first["deployment"], first["duplicate"]) == ("nightly-1", False)
    assert (again["deployment"], again["duplicate"]) == ("nightly-1", True)
    other = ONE_TASK.replace("echo done", "echo other")
    with pytest.raises(RemoteError) as refused:
        await ask(hub, NEW_BEHAVIOR, {"ensemble": other, "id": "nightly-1"})
    assert refused.value.code == "duplicate-deployment"
    assert "nightly-1" in refused.value.remote_message


async def test_a_bidder_that_vanishes_before_the_commit_is_replaced_by_another(
    swarm: Swarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = await swarm.open("hub")
    providers = await swarm.providers("p1", "p2")
    vanished: list[str] = []

    async def close_the_best(result: RoundResult) -> None:
        best = result.candidates[0].bid.bidder
        vanished.append(best)
        await next(node for node in providers if node.did == best).close()

    hook_bid_rounds(monkeypatch, hub, close_the_best)
    deployment = await deploy(hub, ONE_TASK)
    status = await settled(hub, deployment, "completed")
    assert status["state"] == "completed", status
    (survivor,) = (node for node in providers if node.did not in vanished)
    assert status["nodes"]["n1"]["provider"] == survivor.did
    assert status["results"]["work"]["exit_code"] == 0

    (failed,) = await events(hub, CommitFailed, deployment)
    assert (failed.node, failed.provider) == ("n1", vanished[0])
    assert len(await events(hub, MatchingStarted, deployment)) == 2  # bid again without it
    assert any(
        kind == "deployment.commit_failed" and text.startswith(f"{vanished[0]} refused node n1")
        for kind, text in await history_of(hub, deployment)
    )


async def test_a_commit_that_half_fails_reverts_the_half_that_succeeded(
    swarm: Swarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = await swarm.open("hub")
    p1, p2 = await swarm.providers("p1", "p2", cpu=0.5)
    before = free(p1)

    async def take_p2s_cpu(result: RoundResult) -> None:  # someone else got there first
        await p2.invoke_as_user(
            ALLOCATE_BEHAVIOR,
            {"allocation": "squatter", "cpu": 0.5, "ram": 0, "disk": 0, "gpus": []},
            to=p2.system.handle_of(ONBOARDING_ACTOR_ID),
            timeout=WAIT,
        )

    hook_bid_rounds(monkeypatch, hub, take_p2s_cpu)
    pair = f"""
version: nunet/v1
name: pair
allocations:
  a: {{execution: {{image: nunet-test/busybox:1, command: echo a}}, {SMALL}}}
  b: {{execution: {{image: nunet-test/busybox:1, command: echo b}}, {SMALL}}}
nodes:
  n1: {{allocations: [a], peer: "{p1.did}"}}
  n2: {{allocations: [b], peer: "{p2.did}"}}
"""
    deployment = await deploy(hub, pair, queue_timeout=3.0)
    status = await torn_down(hub, deployment)
    assert status["state"] == "expired", status  # p2 has nothing free: n2 cannot be placed

    failed = await events(hub, CommitFailed, deployment)
    assert [(f.node, f.provider) for f in failed] == [("n2", p2.did)]
    assert "cpu" in failed[0].reason, failed[0].reason
    reverted = await events(hub, NodeReverted, deployment)
    assert ("n1", p1.did) in [(r.node, r.provider) for r in reverted]
    assert free(p1) == before
    assert await containers_of(p1) == []
    assert await containers_of(p2) == []
    assert all(view["state"] == "pending" for view in status["allocations"].values()), status
