"""Supervision of a deployment: a crashing allocation restarted under each strategy, a
supervisor past its intensity escalating and failing the deployment, which is then released."""

from __future__ import annotations

import pytest

from nunet.orchestrator.events import AllocationsRestarted, SupervisorEscalated
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    containers_of,
    crash,
    deploy,
    events,
    free,
    settled,
    swarm,
    torn_down,
    wait_until,
)

__all__ = ["swarm"]

SERVICE = """
  {name}:
    type: service
    execution: {{image: nunet-test/busybox:1, command: "while true; do sleep 1; done"}}
    {small}"""

TRIPLE = """
version: nunet/v1
name: triple
allocations:{services}
nodes:
  box: {{allocations: [a, b, c]}}
supervisor:
  strategy: {strategy}
  intensity: {{restarts: 1, period: 60s}}
  children: [a, b, c]
"""


def triple(strategy: str) -> str:
    services = "".join(SERVICE.format(name=n, small=SMALL) for n in "abc")
    return TRIPLE.format(services=services, strategy=strategy)


def run_of(allocation: str, run: int):  # type: ignore[no-untyped-def]
    """A status test: `allocation` is running its `run`th time."""
    return lambda s: (
        (s["allocations"][allocation]["state"], s["allocations"][allocation]["run"])
        == (
            "running",
            run,
        )
    )


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        ("one-for-one", ["b"]),
        ("all-for-one", ["a", "b", "c"]),
        ("rest-for-one", ["b", "c"]),
    ],
)
async def test_a_crash_restarts_what_the_strategy_says_and_a_second_one_escalates(
    swarm: Swarm, strategy: str, restarted: list[str]
) -> None:
    hub = await swarm.open("hub")
    (box,) = await swarm.providers("box")
    before = free(box)
    deployment = await deploy(hub, triple(strategy))
    status = await settled(hub, deployment, "running")
    assert status["state"] == "running", status

    await crash(deployment, "b")
    status = await wait_until(
        hub,
        deployment,
        lambda s: s["state"] == "running" and all(run_of(n, 2)(s) for n in restarted),
        f"{restarted} running again",
    )
    runs = {name: view["run"] for name, view in status["allocations"].items()}
    assert runs == {n: 2 if n in restarted else 1 for n in "abc"}
    (restart,) = await events(hub, AllocationsRestarted, deployment)
    assert (sorted(restart.allocations), restart.strategy, restart.supervisor) == (
        restarted,
        strategy,
        "",
    )
    assert "b" in restart.why

    await crash(deployment, "b")
    status = await torn_down(hub, deployment)
    assert status["state"] == "failed", status
    assert status["why"].startswith("its supervisor gave up"), status["why"]
    assert "b" in status["why"]
    assert status["results"]["b"]["exit_code"] == 137  # killed: its result is kept
    assert {v["state"] for v in status["allocations"].values()} == {"released"}
    (escalation,) = await events(hub, SupervisorEscalated, deployment)
    assert escalation.supervisor == ""
    assert len(await events(hub, AllocationsRestarted, deployment)) == 1
    assert free(box) == before
    assert await containers_of(box) == []
