"""The node's place in the swarm: its transport and, when embedded, its own supervised nats-server.

`open_mesh` builds what the config's `mesh.mode` asks for; `join_swarm` (once the actor system
has started the transport) creates the swarm log stream on a hub, starts the outbox that
replicates the node's log, and writes `<home>/mesh.json` for local tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from nunet.db import DocumentStore
from nunet.eventlog import Event, EventLog
from nunet.mesh import (
    SWARM_DOMAIN,
    SWARM_KEY_FILE,
    ClusterSpec,
    LeafListen,
    MeshAccess,
    MeshConfigError,
    NatsServer,
    ServerSpec,
    SupervisionSettings,
    SwarmKey,
    issue_node_tls,
    write_mesh_access,
)
from nunet.network import InMemoryNetwork, InMemoryTransport, NatsTransport, Transport
from nunet.node.config import MeshConfig, NodeConfig
from nunet.node.layout import NodeLayout
from nunet.peers import Links
from nunet.replication import Outbox, ensure_swarm_stream

_PAYLOAD_HEADROOM = 64 * 1024  # NATS headers and the envelope's wire framing
_LEAF_SCHEMES = ("nats-leaf", "tls", "nats")

EventSink = Callable[[Event], None]


@dataclass
class NodeMesh:
    """What the node holds of the mesh. `server` is None unless the mesh is embedded."""

    mode: str
    transport: Transport
    server: NatsServer | None = None
    token: str | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    links: Links | None = None  # how `peers connect` adds a hub; None: nothing to manage
    outbox: Outbox | None = None
    _replicating: asyncio.Task[None] | None = None

    def replicate(self, outbox: Outbox) -> None:
        """Start replicating the node's log (once)."""
        if self.outbox is None:
            self.outbox = outbox
            self._replicating = asyncio.create_task(outbox.run(), name="replication-outbox")

    async def stop_replicating(self) -> None:
        task, self._replicating = self._replicating, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ServerLinks:
    """`nunet peers connect ADDRESS`: one more hub for the embedded server to dial."""

    def __init__(self, server: NatsServer) -> None:
        self._server = server
        self.on_link: Callable[[], None] | None = None  # a node that had no hub starts replicating

    async def connect(self, address: str) -> None:
        parsed = urlsplit(address)
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.scheme not in _LEAF_SCHEMES or not parsed.hostname or port is None:
            raise MeshConfigError(
                f"{address!r} is not a hub's leaf URL: use tls://HOST:PORT or nats-leaf://HOST:PORT"
            )
        await self._server.add_remote(address)
        if self.on_link is not None:
            self.on_link()


def server_name(did: str) -> str:
    """A short, stable server name from the node DID (letters and digits only)."""
    return "n-" + did.rsplit(":", 1)[-1][-16:]


async def open_mesh(
    layout: NodeLayout, config: NodeConfig, did: str, record: EventSink, exits: AsyncExitStack
) -> NodeMesh:
    """The transport the config asks for; an embedded server is started (and stopped on exit)."""
    mesh = config.mesh
    if mesh.mode == "memory":
        return NodeMesh("memory", InMemoryTransport(InMemoryNetwork(), did))
    if mesh.mode == "external":
        transport = NatsTransport(list(mesh.external_urls), did, token=mesh.external_token)
        return NodeMesh("external", transport, token=mesh.external_token)
    payload = min(config.max_envelope_bytes + _PAYLOAD_HEADROOM, 64 << 20)  # the server's limit
    token = secrets.token_urlsafe(24)
    spec = await asyncio.to_thread(_server_spec, layout, mesh, did, token, payload)
    settings = SupervisionSettings(bootstrap_timeout_s=mesh.bootstrap_timeout_seconds)
    server = NatsServer(spec, on_event=record, settings=settings)
    await server.start()
    exits.push_async_callback(server.stop)
    transport = NatsTransport(server.client_url, did, token=token, name=spec.name)
    addresses = {"leaf": server.leaf_url} if server.leaf_url is not None else {}
    return NodeMesh(
        "embedded",
        transport,
        server=server,
        token=token,
        addresses=addresses,
        links=ServerLinks(server),
    )


def _server_spec(
    layout: NodeLayout, mesh: MeshConfig, did: str, token: str, max_payload: int
) -> ServerSpec:
    # No key configured: <home>/swarm.key if `nunet swarm key new` made one, else the open swarm.
    if mesh.swarm_key_file:
        key = SwarmKey.load(Path(mesh.swarm_key_file))
    else:
        key = SwarmKey.load_or_public(layout.home / SWARM_KEY_FILE)
    name = server_name(did)
    hosts = list(mesh.hub.advertise) if mesh.hub is not None else []
    if mesh.hub is not None and mesh.hub.host not in ("0.0.0.0", "::"):
        hosts.append(mesh.hub.host)
    tls = issue_node_tls(key, layout.mesh / "tls", name, hosts)
    cluster = None
    if mesh.cluster is not None:
        cluster = ClusterSpec(
            name=mesh.cluster.name,
            host=mesh.cluster.host,
            port=mesh.cluster.port,
            routes=tuple(mesh.cluster.routes),
        )
    return ServerSpec(
        name=name,
        directory=layout.mesh,
        client_token=token,
        jetstream_domain=SWARM_DOMAIN if mesh.hub is not None else f"node-{name[2:]}",
        client_port=mesh.client_port,
        monitor_port=mesh.monitor_port,
        leaf_listen=None
        if mesh.hub is None
        else LeafListen(host=mesh.hub.host, port=mesh.hub.port),
        remotes=tuple(mesh.bootstrap),
        cluster=cluster,
        tls=tls,
        leaf_credentials=key.leaf_credentials,
        route_credentials=key.route_credentials,
        max_payload=max_payload,
    )


async def join_swarm(
    node_mesh: NodeMesh,
    layout: NodeLayout,
    config: NodeConfig,
    did: str,
    log: EventLog,
    store: DocumentStore,
    exits: AsyncExitStack,
) -> None:
    """After the transport started: the swarm stream (hubs), the outbox, and mesh.json."""
    transport = node_mesh.transport
    if not isinstance(transport, NatsTransport):
        return
    js = transport.client.jetstream(domain=SWARM_DOMAIN)
    mesh = config.mesh
    if mesh.hub is not None or mesh.mode == "external":  # where the swarm's stream lives
        replication = mesh.replication
        await ensure_swarm_stream(
            js,
            replicas=replication.stream_replicas,
            max_age=None
            if replication.retention_days is None
            else timedelta(days=replication.retention_days),
            max_bytes=replication.max_bytes,
        )
    if mesh.replication.enabled:
        exits.push_async_callback(node_mesh.stop_replicating)

        def replicate() -> None:
            node_mesh.replicate(Outbox(log, js, store, did))

        # A node on its own has no swarm to replicate to until `peers connect` gives it a hub.
        if mesh.hub is not None or mesh.bootstrap or mesh.mode == "external":
            replicate()
        elif isinstance(node_mesh.links, ServerLinks):
            node_mesh.links.on_link = replicate
    server = node_mesh.server
    access = MeshAccess(
        client_url=server.client_url if server is not None else mesh.external_urls[0],
        token=node_mesh.token,
        did=did,
        swarm_domain=SWARM_DOMAIN,
        leaf_url=server.leaf_url if server is not None else None,
    )
    await asyncio.to_thread(write_mesh_access, layout.mesh_access, access)
    exits.callback(layout.mesh_access.unlink, missing_ok=True)
