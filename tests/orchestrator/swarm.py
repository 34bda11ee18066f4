"""Whole nodes (Node.open: log, actors, the Docker executor on this machine's engine) on one
in-memory network, onboarded, deploying ensembles through the deployments actor as their user
would. The network is the only stand-in (the transport contract runs against NATS in
tests/network; the multi-process swarm on real NATS is tests/orchestrator/test_devstack.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nunet.capability.model import Resources
from nunet.eventlog import Catalogue
from nunet.executor.docker.engine import DockerEngine
from nunet.identity import KeyStore
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.node import Node, parse_config
from nunet.onboarding import ONBOARD_BEHAVIOR, ONBOARDING_ACTOR_ID, offering_of
from nunet.orchestrator.behaviors import (
    DEPLOYMENTS_ACTOR_ID,
    HISTORY_BEHAVIOR,
    NEW_BEHAVIOR,
    STATUS_BEHAVIOR,
    TERMINAL_STATES,
)
from nunet.orchestrator.events import EVENTS, DeploymentEvent
from nunet.peers import PeerJoined
from tests.support.actors import wait_for_event
from tests.support.homes import PASSPHRASE, make_home

WAIT = 60.0  # generous: a small shared machine, containers starting
HEARTBEAT = 0.3
SMALL = "resources: {cpu: 0.25, ram: 64MiB}"

E = TypeVar("E", bound=DeploymentEvent)


@pytest.fixture
async def swarm(tmp_path: Path, busybox_image: str) -> AsyncIterator[Swarm]:
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits)


def swarm_config(**orchestrator: Any) -> dict[str, Any]:
    return {
        "mesh": {"mode": "memory", "heartbeat_seconds": HEARTBEAT},
        "onboarding": {"benchmark_on_onboard": False},
        "orchestrator": {
            "bid_timeout_seconds": 0.5,
            "heartbeat_seconds": HEARTBEAT,
            "commit_timeout_seconds": 10.0,
            **orchestrator,
        },
    }


class Swarm:
    """Nodes on one in-memory network; each closed when the test ends."""

    def __init__(
        self, root: Path, exits: AsyncExitStack, config: dict[str, Any] | None = None
    ) -> None:
        self.network = InMemoryNetwork()
        self._root = root
        self._exits = exits
        self._config = config or {}  # merged into every node's config (top-level sections)
        self.nodes: dict[str, Node] = {}

    async def open(self, name: str, **orchestrator: Any) -> Node:
        home = self._root / name
        if not (home / "keys").exists():
            make_home(home)
        did = KeyStore(home / "keys", "").did("dms")
        node = await Node.open(
            home,
            PASSPHRASE,
            parse_config({**swarm_config(**orchestrator), **self._config}),
            transport=InMemoryTransport(self.network, did),
            addresses={"api": f"http://{name}.test"},
        )
        self._exits.push_async_callback(node.close)
        self.nodes[name] = node
        return node

    async def providers(self, *names: str, cpu: float = 1.0) -> list[Node]:
        """Onboarded nodes `names`, meshed with every node already open."""
        opened = [await self.open(name) for name in names]
        await self.mesh(*self.nodes.values())
        for node in opened:
            await self.onboard(node, cpu=cpu)
        return opened

    async def onboard(self, node: Node, *, cpu: float = 1.0, ram: str = "1GiB") -> None:
        await node.invoke_as_user(
            ONBOARD_BEHAVIOR,
            {"cpu": cpu, "ram": ram, "disk": "1GiB", "gpus": "none"},
            to=node.system.handle_of(ONBOARDING_ACTOR_ID),
            timeout=WAIT,
        )

    async def mesh(self, *nodes: Node) -> None:
        """Every node has heard every other's presence."""
        for observer in nodes:
            for peer in nodes:
                if peer is not observer:
                    await wait_for_event(
                        observer.log, PeerJoined, lambda e, d=peer.did: e.did == d, timeout=WAIT
                    )


async def ask(node: Node, behavior: str, payload: Any, timeout: float = WAIT) -> Any:
    return await node.invoke_as_user(
        behavior, payload, to=node.system.handle_of(DEPLOYMENTS_ACTOR_ID), timeout=timeout
    )


async def deploy(node: Node, ensemble: str, **fields: Any) -> str:
    answer = await ask(node, NEW_BEHAVIOR, {"ensemble": ensemble, **fields})
    return str(answer["deployment"])


async def settled(node: Node, deployment: str, *states: str, timeout: float = WAIT) -> Any:
    """The deployment's status once it is in one of `states` (or any terminal state)."""
    wanted = set(states) | TERMINAL_STATES
    return await wait_until(
        node, deployment, lambda s: s["state"] in wanted, f"in {sorted(wanted)}", timeout
    )


async def events(node: Node, kind: type[E], deployment: str) -> list[E]:
    """Every `kind` event of `deployment` in `node`'s log, in order, once the log holds every
    event its history shows (the orchestrator appends without waiting for the write)."""
    shown = len((await ask(node, HISTORY_BEHAVIOR, {"deployment": deployment}))["entries"])
    catalogue = Catalogue(*EVENTS)
    async with asyncio.timeout(WAIT):
        while True:
            written = [
                event
                async for record in node.log.read(types=[k.TYPE for k in EVENTS])
                if isinstance(event := catalogue.decode(record), DeploymentEvent)
                and event.deployment == deployment
            ]
            if len(written) >= shown:
                return [e for e in written if isinstance(e, kind)]
            await asyncio.sleep(0.05)


async def wait_until(
    node: Node, deployment: str, test: Any, what: str, timeout: float = WAIT
) -> Any:
    """The deployment's status once `test(status)` holds."""
    status: Any = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                status = await ask(node, STATUS_BEHAVIOR, {"deployment": deployment})
                if test(status):
                    return status
                await asyncio.sleep(0.1)
    except TimeoutError:
        history = await ask(node, HISTORY_BEHAVIOR, {"deployment": deployment})
        lines = "\n".join(e["summary"] for e in history["entries"])
        raise AssertionError(f"not {what} in {timeout:g} s: {status}\n{lines}") from None


async def history_of(node: Node, deployment: str) -> list[tuple[str, str]]:
    """(type, summary) of every history entry."""
    history = await ask(node, HISTORY_BEHAVIOR, {"deployment": deployment})
    return [(e["type"], e["summary"]) for e in history["entries"]]


def free(node: Node) -> Resources:
    """What `node`'s resource ledger has free now."""
    offering = offering_of(node.system)
    assert offering is not None, f"{node.did} is not onboarded"
    return offering[1]


async def containers_of(node: Node) -> list[str]:
    """Names of every container (any state) the node's Docker executor left on the engine."""
    engine = DockerEngine()
    try:
        found = await engine.containers({"nunet.node": node.did})
    finally:
        await engine.close()
    return [str(c["Names"][0]) for c in found]


async def crash(deployment: str, allocation: str) -> None:
    """Kill the allocation's running container behind its executor's back (it crashes)."""
    engine = DockerEngine()
    try:
        found = await engine.containers(
            {"nunet.deployment": deployment, "nunet.allocation": allocation}
        )
        running = [c for c in found if c["State"] == "running"]
        assert len(running) == 1, f"{allocation}: {[(c['Names'], c['State']) for c in found]}"
        await engine.kill(str(running[0]["Id"]))
    finally:
        await engine.close()


async def torn_down(node: Node, deployment: str) -> Any:
    """The deployment's status once it ended and every machine released what it held."""
    return await wait_until(
        node,
        deployment,
        lambda s: s["state"] in TERMINAL_STATES and s["torn_down"],
        "ended and torn down",
    )


async def remove_containers(did: str) -> int:
    """Remove what a closed node's executor left on the engine (its work went on without it);
    how many containers there were."""
    engine = DockerEngine()
    try:
        found = await engine.containers({"nunet.node": did})
        for container in found:
            await engine.remove(str(container["Id"]))
    finally:
        await engine.close()
    return len(found)
