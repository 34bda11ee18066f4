"""A partition of a member's leaf link to its hub, and its healing: the logs converge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.devstack.stack import free_port
from nunet.mesh import SwarmKey
from nunet.node import Node, parse_config
from tests.support.homes import PASSPHRASE, make_home
from tests.support.proxy import LinkProxy
from tests.support.swarm import (
    assert_exactly_once,
    connect,
    stored_records,
    wait_replicated,
    wait_until,
)

pytestmark = pytest.mark.slow

HEARTBEAT = 0.3


@pytest.fixture
async def partitioned(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, LinkProxy]]:
    key_file = tmp_path / "swarm.key"
    SwarmKey.generate().write(key_file)
    hub_port = free_port()
    proxy = LinkProxy(hub_port)
    await proxy.start()
    mesh = {"heartbeat_seconds": HEARTBEAT, "swarm_key_file": str(key_file)}
    hub_config = parse_config({"mesh": {**mesh, "hub": {"port": hub_port}}})
    member_config = parse_config(
        {"mesh": {**mesh, "bootstrap": [f"nats-leaf://127.0.0.1:{proxy.port}"]}}
    )
    hub = await Node.open(make_home(tmp_path / "hub"), PASSPHRASE, hub_config)
    try:
        member = await Node.open(make_home(tmp_path / "member"), PASSPHRASE, member_config)
        try:
            yield hub, member, proxy
        finally:
            await member.close()
    finally:
        await hub.close()
        await proxy.close()


async def test_a_cut_leaf_link_heals_and_the_member_log_converges_at_the_hub(
    partitioned: tuple[Node, Node, LinkProxy],
) -> None:
    hub, member, proxy = partitioned
    nc = await connect(hub.layout.home)
    try:
        await wait_replicated(nc, member.did, (await member.log.head())[0])

        async def member_up_at_hub() -> bool:
            return await _state(hub, member.did) == "up"

        await wait_until(member_up_at_hub, "the hub to know the member before the cut")
        await proxy.cut()
        cut_at = (await member.log.head())[0]

        async def member_down_at_hub() -> bool:
            return await _state(hub, member.did) == "down"

        await wait_until(member_down_at_hub, "the hub to mark the member down")
        # Both sides go on logging while apart (presence, envelopes, the down transitions).
        for _ in range(20):
            await member.invoke_as_user("/public/hello")
        assert (await member.log.head())[0] > cut_at
        assert member.mesh.outbox is not None

        proxy.heal()
        await wait_until(member_up_at_hub, "the hub to see the member again")
        target = (await member.log.head())[0]
        await wait_replicated(nc, member.did, target)
        records = await stored_records(nc, member.did)
        assert_exactly_once(records)
        local = [record async for record in member.log.read(1, max(r.seq for r in records))]
        assert [r.hash for r in sorted(records, key=lambda r: r.seq)] == [r.hash for r in local]
    finally:
        await nc.close()


async def _state(node: Node, did: str) -> str | None:
    rows = await node.invoke_as_user("/dms/node/peers/list", to=node.system.handle_of("peers"))
    return next((row["state"] for row in rows if row["did"] == did), None)
