"""`nunet peers` through click's CliRunner against a running node's real local API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from click.testing import CliRunner, Result

from nunet.api import ApiServer, create_app
from nunet.cli.context import CliContext
from nunet.cli.peers import peers
from nunet.identity import KeyPair
from nunet.node import Node
from tests.peers.swarm import Swarm, joined


@asynccontextmanager
async def serving(swarm: Swarm, name: str, node: Node) -> AsyncIterator[None]:
    """The node's API on loopback TCP, recorded (with its token) in the home's api.json."""
    server = ApiServer(
        create_app(node, token="peers-test-token"),
        host="127.0.0.1",
        port=0,
        socket_path=None,
        info_path=swarm.home(name) / "api.json",
        token="peers-test-token",
    )
    await server.start()
    try:
        yield
    finally:
        await server.stop()


async def nunet_peers(swarm: Swarm, name: str, *args: str) -> Result:
    # In a thread: the command's HTTP client blocks, and the node answers on this loop.
    context = CliContext(swarm.home(name), None, "table")
    return await asyncio.to_thread(CliRunner().invoke, peers, list(args), obj=context)


async def test_list_self_score_and_ping_show_what_the_node_knows(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    async with serving(swarm, "a", a):
        table = await nunet_peers(swarm, "a", "list")
        assert table.exit_code == 0, table.output
        header, row = table.output.splitlines()[:2]
        assert header.split()[:3] == ["DID", "STATE", "ADDRESSES"]
        assert row.split()[:3] == [b.did, "up", "http://b.test"]

        listed = await nunet_peers(swarm, "a", "list", "-o", "json")
        assert [r["did"] for r in json.loads(listed.output)] == [b.did]

        me = await nunet_peers(swarm, "a", "self", "-o", "json")
        assert json.loads(me.output)["did"] == a.did

        scores = await nunet_peers(swarm, "a", "score", "-o", "json")
        [scored] = json.loads(scores.output)
        assert scored["did"] == b.did
        assert 0.0 <= scored["score"] <= 1.0

        pinged = await nunet_peers(swarm, "a", "ping", b.did, "-o", "json")
        assert pinged.exit_code == 0, pinged.output
        assert json.loads(pinged.output)["rtt_seconds"] >= 0.0


async def test_errors_are_one_clear_line(swarm: Swarm) -> None:
    a = await swarm.open("a")
    async with serving(swarm, "a", a):
        empty = await nunet_peers(swarm, "a", "list")
        assert empty.exit_code == 0
        assert "no peers heard from yet" in empty.output

        stranger = KeyPair.generate().did
        unknown = await nunet_peers(swarm, "a", "ping", stranger)
        assert unknown.exit_code == 1
        assert "unknown-peer" in unknown.output
        assert stranger in unknown.output
        assert "Traceback" not in unknown.output

        no_links = await nunet_peers(swarm, "a", "connect", "tls://hub.test:7422")
        assert no_links.exit_code == 1
        assert "this node has no mesh links to manage" in no_links.output


async def test_without_a_running_node_the_command_says_how_to_start_one(swarm: Swarm) -> None:
    result = await nunet_peers(swarm, "idle", "list")
    assert result.exit_code == 1
    assert "nunet run" in result.output
