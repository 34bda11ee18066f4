"""DevStack: prepare the homes, start the hub then its members, report them, stop them all."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from nunet.devstack.plan import NodePlan, StackPlan
from nunet.devstack.process import NodeProcess, StackError
from nunet.identity import KeyStore
from nunet.mesh import SwarmKey
from nunet.node import NodeConfig, init_home, parse_config

READY_TIMEOUT = 60.0
HUB_PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class RunningNode:
    name: str
    did: str
    api: str
    home: str
    pid: int


class DevStack:
    """A hub and N member nodes, each its own `nunet run` process on loopback."""

    def __init__(self, plan: StackPlan, *, passphrase: str | None = None) -> None:
        self.plan = plan
        self._passphrase = passphrase
        self._processes: list[NodeProcess] = []
        self.nodes: list[RunningNode] = []

    async def start(self, ready_timeout: float = READY_TIMEOUT) -> list[RunningNode]:
        """Start every node and wait until each is ready; on failure, stop what started."""
        try:
            await asyncio.to_thread(self._prepare)
            await self._start_hub(ready_timeout)
            members = [await self._launch(node) for node in self.plan.nodes]
            await asyncio.gather(*(member.wait_ready(ready_timeout) for member in members))
            self.nodes = [await self._describe(process) for process in self._processes]
        except BaseException:
            await self.stop()
            raise
        self.plan.manifest.write_text(json.dumps([asdict(n) for n in self.nodes], indent=2))
        return self.nodes

    async def wait_for_exit(self) -> NodePlan:
        """Until some node exits on its own (a crash): which one."""
        waits = {asyncio.ensure_future(p.wait()): p for p in self._processes}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return waits[next(iter(done))].plan

    async def stop(self) -> None:
        """Members first, then the hub, so that leaves do not spin on a vanished hub."""
        members, hub = self._processes[1:], self._processes[:1]
        await asyncio.gather(*(p.stop() for p in members))
        await asyncio.gather(*(p.stop() for p in hub))
        self.plan.manifest.unlink(missing_ok=True)

    async def _start_hub(self, ready_timeout: float) -> None:
        """The hub, on the leaf port chosen for it; another one if that was taken meanwhile
        (the port is free when chosen, but anything may bind it before the hub does)."""
        for attempt in range(HUB_PORT_ATTEMPTS):
            hub = await self._launch(self.plan.hub)
            try:
                await hub.wait_ready(ready_timeout)
                return
            except StackError as exc:
                if "already in use" not in str(exc) or attempt + 1 == HUB_PORT_ATTEMPTS:
                    raise
            await hub.stop()
            self._processes.remove(hub)
            self.plan = dataclasses.replace(self.plan, hub_port=free_port())

    def process(self, name: str) -> NodeProcess:
        """The process of node `name` (to kill or restart it in tests)."""
        for process in self._processes:
            if process.plan.name == name:
                return process
        raise StackError(f"no node named {name!r} in this devstack")

    def _prepare(self) -> None:
        if self.plan.hub_port == 0:
            self.plan = dataclasses.replace(self.plan, hub_port=free_port())
        plan = self.plan
        plan.directory.mkdir(parents=True, exist_ok=True)
        if self._passphrase is None:
            self._passphrase = _read_or_make_passphrase(plan.passphrase_file)
        else:
            _write_private(plan.passphrase_file, self._passphrase)
        if plan.private and not plan.swarm_key.exists():
            SwarmKey.generate().write(plan.swarm_key)
        for node in [plan.hub, *plan.nodes]:
            node.home.mkdir(parents=True, exist_ok=True)
            init_home(node.home, KeyStore(node.home / "keys", self._passphrase), NodeConfig())

    async def _launch(self, node: NodePlan) -> NodeProcess:
        config = self.plan.config(node)
        parse_config(config, source=f"{node.name} config")  # a plan bug shows here, not in a log
        (node.home / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True))
        process = NodeProcess(node, self.plan.passphrase_file)
        self._processes.append(process)
        await process.start()
        return process

    async def _describe(self, process: NodeProcess) -> RunningNode:
        _, access = await process.wait_ready(READY_TIMEOUT)
        pid = process.pid
        assert pid is not None
        return RunningNode(
            process.plan.name, access.did, process.api_url(), str(process.plan.home), pid
        )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the hub binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_or_make_passphrase(path: Path) -> str:
    if path.exists():
        return path.read_text().rstrip("\r\n")
    passphrase = secrets.token_urlsafe(24)
    _write_private(path, passphrase)
    return passphrase


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
