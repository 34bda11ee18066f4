"""Bad input at the mesh's boundaries: clear errors at start, and a node that keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from nunet.actor import Actor, ActorError
from nunet.actor.events import EnvelopeRefused
from nunet.cli import cli
from nunet.devstack.stack import free_port
from nunet.errors import NunetError
from nunet.mesh import PortInUseError, SwarmKeyError
from nunet.mesh.events import BootstrapUnreachable, MeshServerGaveUp
from nunet.network.nats_wire import KIND, MESSAGE_ID, SENDER, Kind, inbox_subject
from nunet.node import Node, parse_config
from tests.support.actors import events_of, wait_for_event
from tests.support.homes import PASSPHRASE, make_home
from tests.support.swarm import connect, hub_and_member

pytestmark = pytest.mark.slow

WAIT = 30.0


async def test_a_malformed_swarm_key_stops_the_node_with_the_file_named(tmp_path: Path) -> None:
    key = tmp_path / "swarm.key"
    key.write_text("not a swarm key\n")
    config = parse_config({"mesh": {"swarm_key_file": str(key)}})
    with pytest.raises(SwarmKeyError, match=str(key)):
        await Node.open(make_home(tmp_path / "n"), PASSPHRASE, config)


def test_a_missing_swarm_key_is_one_clear_line_from_nunet_run(tmp_path: Path) -> None:
    home = make_home(tmp_path / "n")
    missing = tmp_path / "nowhere" / "swarm.key"
    (home / "config.yaml").write_text(f"mesh:\n  swarm_key_file: {missing}\n")
    result = CliRunner().invoke(
        cli, ["--home", str(home), "run"], env={"NUNET_PASSPHRASE": PASSPHRASE}
    )
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert "Traceback" not in result.output


async def test_a_client_port_in_use_is_named_with_its_role(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = parse_config({"mesh": {"client_port": port}})
        with pytest.raises(PortInUseError, match=rf"client.*{port}"):
            await Node.open(make_home(tmp_path / "n"), PASSPHRASE, config)


async def test_a_bootstrap_that_does_not_answer_is_reported_and_the_node_serves_on(
    tmp_path: Path,
) -> None:
    silent = free_port()  # nobody listens there
    config = parse_config(
        {
            "mesh": {
                "bootstrap": [f"nats-leaf://127.0.0.1:{silent}"],
                "bootstrap_timeout_seconds": 0.5,
            }
        }
    )
    async with await Node.open(make_home(tmp_path / "n"), PASSPHRASE, config) as node:
        _, event = await wait_for_event(node.log, BootstrapUnreachable, timeout=WAIT)
        assert str(silent) in event.url
        status = await node.invoke_as_user("/public/status")
        assert status["did"] == node.did


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with hub_and_member(tmp_path) as nodes:
        yield nodes


async def test_garbage_on_the_inbox_and_on_topics_is_refused_and_logged(
    pair: tuple[Node, Node],
) -> None:
    hub, member = pair
    nc = await connect(member.layout.home)  # a raw client inside the swarm, on the member's server
    try:
        headers = {SENDER: member.did, KIND: Kind.SEND.value}
        for junk in (b"", b"\x00\xff garbage", b"[1, 2, 3]", b"\x93\x01\xc4\x00\xc4\x00"):
            reply = await nc.request(inbox_subject(hub.did), junk, headers=headers, timeout=WAIT)
            assert reply is not None
            await nc.publish(
                "nunet.topic.nunet.presence", junk, headers={MESSAGE_ID: junk.hex() or "e"}
            )
        await nc.publish(inbox_subject(hub.did), b"no headers at all")
        await nc.flush()
    finally:
        await nc.close()
    await wait_for_event(hub.log, EnvelopeRefused, lambda e: e.claimed_sender == "", timeout=WAIT)
    status = await member.invoke_as_user("/public/status", to=hub.node_handle, timeout=WAIT)
    assert status["did"] == hub.did


async def test_an_envelope_over_the_limit_is_refused_before_it_leaves(
    pair: tuple[Node, Node],
) -> None:
    hub, member = pair
    caller = Actor()
    await member.system.spawn(caller, "caller")
    too_big = b"x" * (member.config.max_envelope_bytes + 1)
    with pytest.raises((NunetError, ActorError), match=r"(?i)large|bytes|size"):
        await caller.invoke(hub.node_handle, "/public/hello", too_big, timeout=WAIT)
    answer = await caller.invoke(hub.node_handle, "/public/hello", "small", timeout=WAIT)
    assert answer["did"] == hub.did


async def test_a_flood_from_one_peer_meets_its_rate_limit_and_the_node_serves_others(
    tmp_path: Path,
) -> None:
    # A strict limit on the hub (1/s, burst 20), so that 60 messages overflow it however slowly
    # a loaded machine sends them (it would take over 40 s to stay under it).
    strict = {"rate_limits": {"per_sender_per_second": 1.0, "per_sender_burst": 20}}
    async with hub_and_member(tmp_path, hub_settings=strict) as (hub, member):
        flooder = Actor()
        await member.system.spawn(flooder, "flooder")
        for i in range(60):  # bounded
            await flooder.send(hub.node_handle, "/public/hello", i)
        _, refused = await wait_for_event(
            hub.log, EnvelopeRefused, lambda e: e.code == "rate-limited", timeout=WAIT
        )
        assert refused.claimed_sender == member.did
        assert (await hub.invoke_as_user("/public/status"))["did"] == hub.did
        refusals = [  # the member's presence heartbeats draw on the same bucket
            e
            for e in await events_of(hub.log, EnvelopeRefused)
            if e.code == "rate-limited" and e.behavior == "/public/hello"
        ]
        assert 0 < len(refusals) < 60  # some went through: the burst
        assert all(e.data for e in refusals)  # each refused envelope is kept, as received


async def test_a_node_whose_nats_server_keeps_dying_stops_instead_of_serving_cut_off(
    tmp_path: Path,
) -> None:
    async with await Node.open(make_home(tmp_path / "n"), PASSPHRASE) as node:
        server = node.mesh.server
        assert server is not None
        for _ in range(20):  # bounded: the restart intensity (5 in 60 s) gives up before
            if node.failed.is_set():
                break
            pid = server.pid
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            async with asyncio.timeout(WAIT):
                while server.pid in (pid, None) and not node.failed.is_set():
                    await asyncio.sleep(0.02)  # until restarted (new pid) or given up
        assert node.failed.is_set()
        _, gave_up = await wait_for_event(node.log, MeshServerGaveUp, timeout=WAIT)
        assert gave_up.restarts >= 5
