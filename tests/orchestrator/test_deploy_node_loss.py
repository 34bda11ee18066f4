"""A machine lost while it runs an allocation: the orchestrator misses its heartbeats, records
the loss, places the node again (its standby first, else a new bid winner) and the deployment
completes there."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from nunet.allocation.events import AllocationReverted
from nunet.network import InMemoryTransport, PeerUnreachable
from nunet.node import Node
from nunet.orchestrator.behaviors import HISTORY_BEHAVIOR, SHUTDOWN_BEHAVIOR
from nunet.orchestrator.events import NodeLost, NodeRescheduled
from tests.orchestrator.swarm import (
    SMALL,
    WAIT,
    Swarm,
    ask,
    containers_of,
    deploy,
    events,
    free,
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


SERVICE = f"""
version: nunet/v1
name: steady
allocations:
  web:
    type: service
    execution: {{image: nunet-test/busybox:1, command: "sleep 3600"}}
    {SMALL}
nodes:
  n1: {{allocations: [web]}}
"""


class Partition:
    """Cut one node off the in-memory network both ways (nothing reaches it, nothing it sends
    leaves), then heal it: a machine that is alive but unreachable for a while."""

    def __init__(self, swarm: Swarm, node: Node) -> None:
        self._network = swarm.network
        self._transport = node.mesh.transport
        assert isinstance(self._transport, InMemoryTransport)
        self._cut = False

    def cut(self) -> None:
        transport = self._transport
        assert isinstance(transport, InMemoryTransport)
        self._network.detach(transport)
        self._cut = True
        original = transport._check_outgoing

        def refuse(data: bytes) -> None:
            if self._cut:
                raise PeerUnreachable(f"{transport.address} is cut off (test partition)")
            original(data)

        transport._check_outgoing = refuse  # type: ignore[method-assign]

    def heal(self) -> None:
        transport = self._transport
        assert isinstance(transport, InMemoryTransport)
        self._cut = False
        self._network.attach(transport)


async def test_a_machine_cut_off_then_back_gives_up_the_node_that_moved_away(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    providers = await swarm.providers("p1", "p2")
    before = {node.did: free(node) for node in providers}
    deployment = await deploy(hub, SERVICE)
    running = await wait_until(hub, deployment, lambda s: s["state"] == "running", "running")
    first = running["nodes"]["n1"]["provider"]
    (cut_off,) = (node for node in providers if node.did == first)
    (other,) = (node for node in providers if node.did != first)
    partition = Partition(swarm, cut_off)
    partition.cut()
    try:
        moved = await wait_until(
            hub,
            deployment,
            lambda s: s["nodes"]["n1"]["provider"] == other.did and s["state"] == "running",
            "moved to the other machine and running",
        )
        assert moved["allocations"]["web"]["healthy"] is None  # no health check: none known
        assert containers_of_did_nonempty(await containers_of(cut_off))
    finally:
        partition.heal()
    # Back on the network, its allocation's next report is disowned; it asks whether the
    # deployment still claims the node there, hears it moved, and gives everything up.
    async with asyncio.timeout(WAIT):
        while free(cut_off) != before[cut_off.did] or await containers_of(cut_off):
            await asyncio.sleep(0.1)
    (gave_up,) = await given_up(cut_off, deployment)
    assert gave_up.reason == f"given up, no longer claimed: node n1 is now on {other.did}"
    history = await ask(hub, HISTORY_BEHAVIOR, {"deployment": deployment})
    assert any(e["type"] == "deployment.node_lost" for e in history["entries"])
    status = await ask(hub, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    assert status["state"] == "shut_down"
    assert free(other) == before[other.did]


async def given_up(node: Node, deployment: str) -> list[AllocationReverted]:
    """The provider's own record of reverting its part of `deployment`."""
    found = []
    async for record in node.log.read(types=[AllocationReverted.TYPE]):
        event = msgspec.msgpack.decode(record.payload, type=AllocationReverted)
        if event.deployment == deployment:
            found.append(event)
    return found


def containers_of_did_nonempty(names: list[str]) -> bool:
    """The cut-off machine's container still runs while it is cut off (it is alive)."""
    return len(names) == 1
