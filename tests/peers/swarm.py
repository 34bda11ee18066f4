"""Nodes with presence actors on one in-memory network, for the peers tests."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from nunet.identity import KeyStore
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.node import Node, NodeConfig, parse_config
from nunet.peers import PEERS_ACTOR_ID, Links, PeerJoined
from tests.support.actors import wait_for_event
from tests.support.homes import PASSPHRASE, make_home

HEARTBEAT = 0.2
WAIT = 15.0  # generous: the machine is small and shared


class Swarm:
    """Nodes on one in-memory network, each with a presence actor; closed when the test ends."""

    def __init__(self, root: Path, exits: AsyncExitStack) -> None:
        self.network = InMemoryNetwork()
        self._root = root
        self._exits = exits

    def home(self, name: str) -> Path:
        home = self._root / name
        if not (home / "keys").exists():
            make_home(home)
        return home

    async def open(self, name: str, *, links: Links | None = None) -> Node:
        home = self.home(name)
        did = KeyStore(home / "keys", "").did("dms")  # the node key's DID is public
        node = await Node.open(
            home,
            PASSPHRASE,
            presence_config(),
            transport=InMemoryTransport(self.network, did),
            links=links,
            addresses={"api": f"http://{name}.test"},
        )
        self._exits.push_async_callback(node.close)  # closing twice is harmless
        return node


def presence_config() -> NodeConfig:
    """Heartbeats fast enough for tests."""
    return parse_config({"mesh": {"mode": "memory", "heartbeat_seconds": HEARTBEAT}})


async def ask(node: Node, behavior: str, payload: Any = None) -> Any:
    """Invoke a peers behavior on `node` as its user, as the CLI does through the API."""
    return await node.invoke_as_user(
        behavior, payload, to=node.system.handle_of(PEERS_ACTOR_ID), timeout=WAIT
    )


async def joined(observer: Node, peer: Node) -> PeerJoined:
    _, event = await wait_for_event(
        observer.log, PeerJoined, lambda e: e.did == peer.did, timeout=WAIT
    )
    return event
