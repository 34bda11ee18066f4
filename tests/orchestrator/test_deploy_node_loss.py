"""A machine lost while it runs an allocation: the orchestrator misses its heartbeats, records
the loss, places the node again (its standby first, else a new bid winner) and the deployment
completes there."""

from __future__ import annotations

import pytest

from nunet.node import Node
from nunet.orchestrator.events import NodeLost, NodeRescheduled
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    deploy,
    events,
    remove_containers,
    settled,
    swarm,
    wait_until,
)

__all__ = ["swarm"]

SLOW_TASK = f"""
version: nunet/v1
name: slow
allocations:
  work:
    execution: {{image: nunet-test/busybox:1, command: "sleep 2; echo done"}}
    {SMALL}
nodes:
  n1: {{allocations: [work], redundancy: {{redundancy}}}}
"""


@pytest.mark.parametrize("redundancy", [1, 0], ids=["standby", "new-bid"])
async def test_a_lost_machine_s_node_is_placed_again_and_the_deployment_completes(
    swarm: Swarm, redundancy: int
) -> None:
    hub = await swarm.open("hub")
    providers = await swarm.providers("p1", "p2")
    deployment = await deploy(hub, SLOW_TASK.replace("{redundancy}", str(redundancy)))
    running = await wait_until(
        hub, deployment, lambda s: s["allocations"]["work"]["state"] == "running", "running"
    )
    first = running["nodes"]["n1"]["provider"]
    assert (
        running["nodes"]["n1"]["standby"]
        == [n.did for n in providers if n.did != first][:redundancy]
    )
    (lost,) = (node for node in providers if node.did == first)
    (other,) = (node for node in providers if node.did != first)
    await lost.close()
    try:
        await completes_elsewhere(hub, deployment, first, other, redundancy)
    finally:
        await remove_containers(first)  # the lost machine's work went on without it


async def completes_elsewhere(
    hub: Node, deployment: str, first: str, other: Node, redundancy: int
) -> None:
    status = await settled(hub, deployment, "completed")
    assert status["state"] == "completed", status
    assert status["nodes"]["n1"]["provider"] == other.did
    assert status["results"]["work"]["exit_code"] == 0
    (loss,) = await events(hub, NodeLost, deployment)
    assert (loss.node, loss.provider) == ("n1", first)
    assert "heartbeat" in loss.why
    (moved,) = await events(hub, NodeRescheduled, deployment)
    assert (moved.old_provider, moved.new_provider, moved.from_standby) == (
        first,
        other.did,
        bool(redundancy),
    )
