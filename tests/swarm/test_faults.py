"""Faults in a real swarm of node processes: the hub dies, a node is SIGKILLed, a link is cut."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from nunet.devstack import DevStack, StackPlan
from nunet.peers.events import PeerDown
from tests.support.processes import processes_under
from tests.support.swarm import (
    assert_exactly_once,
    connect,
    head,
    peer_states,
    stored_records,
    wait_replicated,
    wait_until,
)

pytestmark = pytest.mark.slow

HEARTBEAT = 0.3


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DevStack]:
    devstack = DevStack(StackPlan(tmp_path / "stack", 2, heartbeat_seconds=HEARTBEAT))
    await devstack.start()
    try:
        yield devstack
    finally:
        await devstack.stop()
        for pid in processes_under(tmp_path / "stack"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def home(stack: DevStack, name: str) -> Path:
    return stack.process(name).plan.home


def did(stack: DevStack, name: str) -> str:
    return next(node.did for node in stack.nodes if node.name == name)


async def test_killing_the_hub_loses_and_duplicates_nothing_and_leaves_reconnect(
    stack: DevStack,
) -> None:
    hub = stack.process("hub")
    members = ["node1", "node2"]
    nc = await connect(home(stack, "node1"))
    try:
        for name in members:
            await wait_replicated(nc, did(stack, name), await head(home(stack, name)))
        for pid in processes_under(hub.plan.home):  # the hub's node and its nats-server
            with contextlib.suppress(ProcessLookupError):  # the server may go with its node
                os.kill(pid, signal.SIGKILL)
        await hub.wait()
        before = await head(home(stack, "node1"))
        # The members keep working (and logging) while the hub is away.
        await wait_until(
            lambda: _grew(home(stack, "node1"), before, by=20), "node1 to log more records"
        )
        await hub.start()
        await hub.wait_ready(60)
        heads = {name: await head(home(stack, name)) for name in members}
        for name in members:
            await wait_replicated(nc, did(stack, name), heads[name])
            assert_exactly_once(await stored_records(nc, did(stack, name)))

        async def members_up_at_hub() -> bool:
            states = await asyncio.to_thread(peer_states, hub.plan.home)
            return all(states.get(did(stack, name)) == "up" for name in members)

        await wait_until(members_up_at_hub, "the members to reconnect to the restarted hub")
    finally:
        await nc.close()


async def test_a_sigkilled_node_is_marked_down_within_three_heartbeats_and_catches_up(
    stack: DevStack,
) -> None:
    victim = stack.process("node2")
    victim_did = did(stack, "node2")
    observer = home(stack, "node1")
    nc = await connect(observer)
    try:

        async def up_at_observer() -> bool:
            states = await asyncio.to_thread(peer_states, observer)
            return states.get(victim_did) == "up"

        await wait_until(up_at_observer, "node1 to know node2 before it dies")
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()

        async def down_at_observer() -> bool:
            states = await asyncio.to_thread(peer_states, observer)
            return states.get(victim_did) == "down"

        await wait_until(down_at_observer, "node1 to mark node2 down")
        # The observer logged why: read its peer.down record back from the swarm stream.
        await wait_replicated(nc, did(stack, "node1"), await head(observer))
        downs = [
            msgspec.msgpack.decode(record.payload, type=PeerDown)
            for record in await stored_records(nc, did(stack, "node1"))
            if record.type == PeerDown.TYPE
        ]
        down = next(event for event in downs if event.did == victim_did)
        assert down.silent_seconds <= 3 * HEARTBEAT
        assert down.missed >= 2

        await victim.start()
        await victim.wait_ready(60)

        await wait_until(up_at_observer, "node1 to see node2 up again")
        victim_head = await head(victim.plan.home)
        await wait_replicated(nc, victim_did, victim_head)
        assert_exactly_once(await stored_records(nc, victim_did))
    finally:
        await nc.close()


async def _grew(node_home: Path, before: int, *, by: int) -> bool:
    return await head(node_home) >= before + by
