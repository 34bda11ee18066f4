"""The node's supervised nats-server, with real processes on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import nats
import pytest

from nunet.mesh import (
    LeafListen,
    NatsServer,
    PortInUseError,
    SwarmKey,
)
from nunet.mesh.events import (
    BootstrapUnreachable,
    LeafLinkConnected,
    MeshServerExited,
    MeshServerGaveUp,
    MeshServerRestarted,
)
from tests.mesh.swarm import FAST, WAIT, client, node_spec, running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _raw_connect(url: str, connect: bytes) -> bytes:
    """Speak the NATS protocol by hand: the server's first answer to CONNECT + PING."""
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        await reader.readline()  # INFO
        writer.write(connect + b"\r\nPING\r\n")
        await writer.drain()
        return await reader.readline()
    finally:
        writer.close()


async def _exited(pid: int) -> None:
    """Wait until process `pid` has ended, woken by its pidfd (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already ended and reaped
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, ended.set)
    try:
        await ended.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_only_a_client_with_the_token_may_connect(tmp_path: Path) -> None:
    async with running(node_spec(tmp_path, "node", SwarmKey.generate())) as (server, _):
        refused = b"-ERR 'Authorization Violation'\r\n"
        assert await _raw_connect(server.client_url, b"CONNECT {}") == refused
        assert await _raw_connect(server.client_url, b'CONNECT {"auth_token":"guess"}') == refused
        token = server.spec.client_token.encode()
        welcome = await _raw_connect(
            server.client_url, b'CONNECT {"verbose":false,"auth_token":"%s"}' % token
        )
        assert welcome == b"PONG\r\n"
        errors: list[Exception] = []

        async def on_error(error: Exception) -> None:
            errors.append(error)

        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(
                server.client_url, allow_reconnect=False, error_cb=on_error, connect_timeout=5
            )
        async with client(server) as connection:
            await connection.flush()


async def test_a_configured_port_in_use_fails_naming_the_port_and_its_role(
    tmp_path: Path,
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        key = SwarmKey.generate()
        spec = dataclasses.replace(node_spec(tmp_path, "node", key), client_port=taken)
        with pytest.raises(PortInUseError, match=f"client port 127.0.0.1:{taken}") as caught:
            await NatsServer(spec, settings=FAST).start()
        assert (caught.value.role, caught.value.port) == ("client", taken)
        hub = node_spec(tmp_path, "hub", key, hub=True)
        hub = dataclasses.replace(hub, leaf_listen=LeafListen("127.0.0.1", taken))
        with pytest.raises(PortInUseError, match=f"leafnode port 127.0.0.1:{taken}"):
            await NatsServer(hub, settings=FAST).start()


async def test_a_killed_server_is_restarted_on_the_same_ports(tmp_path: Path) -> None:
    async with running(node_spec(tmp_path, "hub", SwarmKey.generate(), hub=True)) as (
        server,
        events,
    ):
        before = server.spec
        assert before.client_port
        assert before.monitor_port
        assert before.leaf_listen is not None
        assert before.leaf_listen.port
        first_pid = server.pid
        assert first_pid is not None
        async with client(server) as connection:
            os.kill(first_pid, signal.SIGKILL)
            restarted = await events.wait_for(MeshServerRestarted)
            crash = await events.wait_for(MeshServerExited)
            assert (crash.pid, crash.expected, crash.returncode) == (first_pid, False, -9)
            assert restarted.pid == server.pid != first_pid
            assert server.spec == before
            await connection.flush(timeout=WAIT)  # the same URL serves again
        assert (await server.leaf_links()) == []


async def test_supervision_gives_up_past_the_restart_intensity(tmp_path: Path) -> None:
    settings = dataclasses.replace(FAST, max_restarts=1, restart_window_s=600)
    spec = node_spec(tmp_path, "node", SwarmKey.generate())
    async with running(spec, settings) as (server, events):
        os.kill(server.pid or 0, signal.SIGKILL)
        await events.wait_for(MeshServerRestarted)
        os.kill(server.pid or 0, signal.SIGKILL)
        gave_up = await events.wait_for(MeshServerGaveUp)
        assert gave_up.restarts == 1
        assert server.gave_up
        assert server.pid is None


async def test_a_remote_added_at_run_time_links_by_reload_without_a_restart(
    tmp_path: Path,
) -> None:
    key = SwarmKey.generate()
    async with (
        running(node_spec(tmp_path, "hub", key, hub=True)) as (hub, hub_events),
        running(node_spec(tmp_path, "member", key)) as (member, events),
    ):
        pid = member.pid
        assert hub.leaf_url is not None
        await member.add_remote(hub.leaf_url)
        linked = await events.wait_for(LeafLinkConnected)
        assert linked.remote_name == "hub"
        assert member.pid == pid
        assert member.spec.remotes == (hub.leaf_url,)
        await hub_events.wait_for(LeafLinkConnected, lambda e: e.remote_name == "member")
        (link,) = await hub.leaf_links()
        assert link.name == "member"
        assert link.rtt_s is not None
        assert link.rtt_s >= 0


async def test_an_unreachable_bootstrap_is_reported_and_retried_while_the_node_serves(
    tmp_path: Path,
) -> None:
    key = SwarmKey.generate()
    port = _free_port()
    url = f"nats-leaf://127.0.0.1:{port}"
    async with running(node_spec(tmp_path, "member", key, remotes=[url])) as (member, events):
        unreachable = await events.wait_for(BootstrapUnreachable)
        assert unreachable.url == url
        assert "connection refused" in unreachable.last_error
        assert unreachable.waited_s >= FAST.bootstrap_timeout_s
        async with client(member) as connection:
            await connection.flush()
        hub = node_spec(tmp_path, "hub", key, hub=True)
        hub = dataclasses.replace(hub, leaf_listen=LeafListen("127.0.0.1", port))
        async with running(hub):
            await events.wait_for(LeafLinkConnected, lambda e: e.remote_name == "hub")


def test_the_server_dies_with_the_node(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a node killed with SIGKILL (no cleanup at all) takes its server along."""
    spec = node_spec(tmp_path, "node", SwarmKey.generate())
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from nunet.mesh import NatsServer, ServerSpec
        async def main():
            server = NatsServer(ServerSpec(name="node", directory=Path({str(spec.directory)!r}),
                                           client_token="t", jetstream_domain="node"))
            await server.start()
            print(server.pid, flush=True)
            await asyncio.Event().wait()
        asyncio.run(main())
        """
    )
    node = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    server_pid = None
    try:
        assert node.stdout is not None
        server_pid = int(node.stdout.readline())
        node.kill()
        node.wait(WAIT)
        asyncio.run(asyncio.wait_for(_exited(server_pid), WAIT))
    finally:
        node.kill()
        node.wait()
        if server_pid is not None:  # an orphan, if the test failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(server_pid, signal.SIGKILL)
