"""Real `nats-server` processes for tests: a single server, or a hub with leaf servers.

These are deliberately plain (no TLS, no auth): tests of the transport and of replication use
them. The node's own embedded server (nunet.mesh) is tested separately with its TLS and swarm key.
Ports are chosen by the server on first start (`-1`) and kept across restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NATS_SERVER = Path(sys.executable).parent / "nats-server"
START_TIMEOUT = 10.0


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


@dataclass
class NatsProcess:
    """One nats-server child process with a config it was given; restartable on the same ports."""

    name: str
    directory: Path
    jetstream_domain: str | None = None
    leaf_listen: bool = False
    remotes: list[str] = field(default_factory=list)
    client_port: int = -1
    monitor_port: int = -1
    leaf_port: int = -1
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def leaf_url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.leaf_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def config(self) -> str:
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.client_port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            f'ports_file_dir: "{self.directory}"',
        ]
        if self.jetstream_domain is not None:
            store = self.directory / "jetstream"
            lines.append(f'jetstream {{ store_dir: "{store}", domain: {self.jetstream_domain} }}')
        if self.leaf_listen:
            lines.append(f"leafnodes {{ listen: 127.0.0.1:{self.leaf_port} }}")
        elif self.remotes:
            urls = ", ".join(f'{{ url: "{url}" }}' for url in self.remotes)
            lines.append(f"leafnodes {{ reconnect: '200ms', remotes: [ {urls} ] }}")
        return "\n".join(lines) + "\n"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "server.conf"
        conf.write_text(self.config())
        for stale in self.directory.glob("*.ports"):
            stale.unlink()
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(  # noqa: ASYNC220 - a fork, not a wait
            [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        ports = await self._wait_for_ports()
        self.client_port = int(ports["nats"][0].rsplit(":", 1)[1])
        self.monitor_port = int(ports["monitoring"][0].rsplit(":", 1)[1])
        if self.leaf_listen:
            varz = await asyncio.to_thread(_get_json, f"{self.monitor_url}/varz")
            self.leaf_port = int(varz["leaf"]["port"])
        await self.wait_healthy()

    async def _wait_for_ports(self) -> dict[str, list[str]]:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited: {self.log_tail()}")
            for path in self.directory.glob("*.ports"):
                try:
                    return dict(json.loads(path.read_text()))
                except json.JSONDecodeError:
                    pass
            await asyncio.sleep(0.02)
        raise TimeoutError(f"nats-server {self.name} wrote no ports file: {self.log_tail()}")

    async def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                await asyncio.to_thread(_get_json, f"{self.monitor_url}/healthz")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    async def leaf_count(self) -> int:
        leafz = await asyncio.to_thread(_get_json, f"{self.monitor_url}/leafz")
        return int(leafz.get("leafnodes", 0))

    async def wait_for_leaves(self, count: int, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while await self.leaf_count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: fewer than {count} leaf connections")
            await asyncio.sleep(0.02)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.directory / "server.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def kill(self) -> None:
        await self.stop(signal.SIGKILL)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@dataclass
class LeafMesh:
    """A hub (JetStream domain `hub`, accepting leaf connections) and leaf servers attached to it."""

    hub: NatsProcess
    leaves: list[NatsProcess]


@asynccontextmanager
async def nats_server(directory: Path, *, jetstream: bool = True) -> AsyncIterator[NatsProcess]:
    """One standalone server (JetStream domain `hub` when jetstream)."""
    server = NatsProcess("single", directory, jetstream_domain="hub" if jetstream else None)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def leaf_mesh(
    directory: Path, leaves: int = 2, *, jetstream: bool = True
) -> AsyncIterator[LeafMesh]:
    """A hub and `leaves` leaf servers connected to it; each leaf has its own JetStream domain."""
    async with AsyncExitStack() as stack:
        hub = NatsProcess(
            "hub",
            directory / "hub",
            jetstream_domain="hub" if jetstream else None,
            leaf_listen=True,
        )
        stack.push_async_callback(hub.stop)
        await hub.start()
        members = []
        for index in range(leaves):
            leaf = NatsProcess(
                f"leaf{index}",
                directory / f"leaf{index}",
                jetstream_domain=f"leaf{index}" if jetstream else None,
                remotes=[hub.leaf_url],
            )
            stack.push_async_callback(leaf.stop)
            await leaf.start()
            members.append(leaf)
        await hub.wait_for_leaves(leaves)
        yield LeafMesh(hub, members)
