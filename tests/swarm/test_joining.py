"""Ways into a swarm besides bootstrap: `peers connect` at run time, and an external cluster."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from nunet.cli import cli
from nunet.devstack.stack import free_port
from nunet.mesh import SwarmKey
from nunet.mesh.events import MeshLinkRejected
from nunet.node import Node, parse_config
from nunet.replication import STREAM
from tests.support.actors import wait_for_event
from tests.support.homes import PASSPHRASE, make_home
from tests.support.nats import NatsProcess
from tests.support.swarm import (
    assert_exactly_once,
    connect,
    stored_records,
    wait_replicated,
    wait_until,
)

pytestmark = pytest.mark.slow

HEARTBEAT = 0.3


async def peer_state(node: Node, did: str) -> str | None:
    rows = await node.invoke_as_user("/dms/node/peers/list", to=node.system.handle_of("peers"))
    return next((row["state"] for row in rows if row["did"] == did), None)


async def test_a_node_on_its_own_joins_a_hub_by_peers_connect_and_replicates(
    tmp_path: Path,
) -> None:
    key = tmp_path / "swarm.key"
    SwarmKey.generate().write(key)
    mesh = {"heartbeat_seconds": HEARTBEAT, "swarm_key_file": str(key)}
    port = free_port()
    hub = await Node.open(
        make_home(tmp_path / "hub"),
        PASSPHRASE,
        parse_config({"mesh": {**mesh, "hub": {"port": port}}}),
    )
    try:
        loner = await Node.open(
            make_home(tmp_path / "loner"), PASSPHRASE, parse_config({"mesh": mesh})
        )
        try:
            assert loner.mesh.outbox is None  # nowhere to replicate to yet
            answer = await loner.invoke_as_user(
                "/dms/node/peers/connect",
                {"address": f"nats-leaf://127.0.0.1:{port}"},
                to=loner.system.handle_of("peers"),
            )
            assert answer == {"connected": f"nats-leaf://127.0.0.1:{port}"}

            async def both_up() -> bool:
                return (
                    await peer_state(hub, loner.did) == "up"
                    and await peer_state(loner, hub.did) == "up"
                )

            await wait_until(both_up, "the hub and the loner to see each other")
            nc = await connect(hub.layout.home)
            try:
                await wait_replicated(nc, loner.did, (await loner.log.head())[0])
                assert_exactly_once(await stored_records(nc, loner.did))
            finally:
                await nc.close()
        finally:
            await loner.close()
    finally:
        await hub.close()


@pytest.fixture
async def external_cluster(tmp_path: Path) -> AsyncIterator[NatsProcess]:
    """An existing NATS deployment the nodes attach to (JetStream domain `swarm`)."""
    server = NatsProcess("existing", tmp_path / "existing", jetstream_domain="swarm")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_nodes_attach_to_an_existing_nats_deployment_by_url(
    tmp_path: Path, external_cluster: NatsProcess
) -> None:
    config = parse_config(
        {
            "mesh": {
                "mode": "external",
                "external_urls": [external_cluster.url],
                "heartbeat_seconds": HEARTBEAT,
            }
        }
    )
    a = await Node.open(make_home(tmp_path / "a"), PASSPHRASE, config)
    try:
        b = await Node.open(make_home(tmp_path / "b"), PASSPHRASE, config)
        try:
            assert a.mesh.server is None  # no embedded server: the deployment is the mesh

            async def see_each_other() -> bool:
                return await peer_state(a, b.did) == "up" and await peer_state(b, a.did) == "up"

            await wait_until(see_each_other, "the two attached nodes to see each other")
            status = await a.invoke_as_user("/public/status", to=b.node_handle)
            assert status["did"] == b.did
            nc = await connect(a.layout.home)
            try:
                await wait_replicated(nc, b.did, (await b.log.head())[0])
                assert_exactly_once(await stored_records(nc, b.did))
            finally:
                await nc.close()
        finally:
            await b.close()
    finally:
        await a.close()


async def test_a_hub_applies_the_configured_retention_to_the_swarm_stream(tmp_path: Path) -> None:
    config = parse_config(
        {
            "mesh": {
                "hub": {"port": free_port()},
                "replication": {"retention_days": 7, "max_bytes": 64 << 20},
            }
        }
    )
    async with await Node.open(make_home(tmp_path / "hub"), PASSPHRASE, config) as hub:
        nc = await connect(hub.layout.home)
        try:
            info = await nc.jetstream(domain="swarm").stream_info(STREAM)
        finally:
            await nc.close()
    assert info.config.max_age == 7 * 24 * 3600
    assert info.config.max_bytes == 64 << 20


async def test_a_swarm_key_made_by_the_cli_in_each_home_admits_members_and_turns_away_others(
    tmp_path: Path,
) -> None:
    hub_home, member_home = make_home(tmp_path / "hub"), make_home(tmp_path / "member")
    outsider_home = make_home(tmp_path / "outsider")
    made = CliRunner().invoke(cli, ["--home", str(hub_home), "swarm", "key", "new"])
    assert made.exit_code == 0, made.output
    shutil.copy(hub_home / "swarm.key", member_home / "swarm.key")  # how an operator shares it
    port = free_port()
    mesh = {"heartbeat_seconds": HEARTBEAT}
    joining = {"mesh": {**mesh, "bootstrap": [f"nats-leaf://127.0.0.1:{port}"]}}
    hub = await Node.open(
        hub_home, PASSPHRASE, parse_config({"mesh": {**mesh, "hub": {"port": port}}})
    )
    try:
        member = await Node.open(member_home, PASSPHRASE, parse_config(joining))
        outsider = await Node.open(outsider_home, PASSPHRASE, parse_config(joining))
        try:

            async def member_up() -> bool:
                return await peer_state(hub, member.did) == "up"

            await wait_until(member_up, "the member with the key to join")
            _, rejected = await wait_for_event(hub.log, MeshLinkRejected, timeout=60)
            assert rejected.cause in ("tls-certificate", "tls-handshake", "authorization")
            assert await peer_state(hub, outsider.did) is None  # never heard of it
            assert await peer_state(outsider, hub.did) is None
        finally:
            await outsider.close()
            await member.close()
    finally:
        await hub.close()
