"""Helpers for mesh tests: nodes of a swarm as real supervised nats-servers, and their events."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import nats
from nats.aio.client import Client

from nunet.eventlog import Event
from nunet.mesh import (
    SWARM_DOMAIN,
    LeafListen,
    NatsServer,
    ServerSpec,
    SupervisionSettings,
    SwarmKey,
    issue_node_tls,
)

# Quick polling so tests wait on conditions briefly; generous limits for a loaded 2-core machine.
FAST = SupervisionSettings(
    start_timeout_s=30.0,
    stop_grace_s=10.0,
    health_interval_s=0.5,
    link_poll_interval_s=0.1,
    bootstrap_timeout_s=1.0,
)
WAIT = 20.0

E = TypeVar("E", bound=Event)


class Events:
    """An event sink that tests can wait on."""

    def __init__(self) -> None:
        self.seen: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.seen.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.seen if isinstance(event, kind)]

    async def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = WAIT
    ) -> E:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.of(kind):
                    if where(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


def node_spec(
    root: Path,
    name: str,
    key: SwarmKey,
    *,
    hub: bool = False,
    remotes: Sequence[str] = (),
) -> ServerSpec:
    """A node's server as the node would configure it: swarm TLS, derived credentials, a token."""
    directory = root / name
    return ServerSpec(
        name=name,
        directory=directory,
        client_token=secrets.token_urlsafe(24),
        jetstream_domain=SWARM_DOMAIN if hub else f"node-{name}",
        leaf_listen=LeafListen(host="127.0.0.1") if hub else None,
        remotes=tuple(remotes),
        tls=issue_node_tls(key, directory / "tls", name),
        leaf_credentials=key.leaf_credentials,
    )


@asynccontextmanager
async def running(
    spec: ServerSpec, settings: SupervisionSettings = FAST
) -> AsyncIterator[tuple[NatsServer, Events]]:
    events = Events()
    server = NatsServer(spec, on_event=events, settings=settings)
    await server.start()
    try:
        yield server, events
    finally:
        await server.stop()


@asynccontextmanager
async def client(server: NatsServer) -> AsyncIterator[Client]:
    """A nats-py client of the node's own server, with its token."""
    connection = await nats.connect(
        server.client_url,
        token=server.spec.client_token,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=5,
    )
    try:
        yield connection
    finally:
        await connection.close()
