"""The node's storage: the stores its config turns on, opened at start and closed at stop.

`nunet://` shares the mesh's NATS connection and is served only on a NATS mesh (not with mesh
mode `memory`); its buckets live in the hubs' JetStream domain when the node has hubs, so every
node of the swarm reaches the same objects, and in the node's own server otherwise.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from nunet.allocation.staging import StorageAccess
from nunet.mesh import SWARM_DOMAIN
from nunet.network.nats import NatsTransport
from nunet.node.config import NodeConfig
from nunet.node.layout import NodeLayout
from nunet.node.mesh import NodeMesh
from nunet.storage.opening import open_storage


def swarm_domain(config: NodeConfig) -> str | None:
    """The JetStream domain of the swarm's object store as this node reaches it."""
    mesh = config.mesh
    has_hubs = mesh.hub is not None or bool(mesh.bootstrap) or mesh.mode == "external"
    return SWARM_DOMAIN if has_hubs else None


def volume_dir(config: NodeConfig, layout: NodeLayout) -> Path:
    return Path(config.storage.volume_dir) if config.storage.volume_dir else layout.volumes


async def open_node_storage(
    config: NodeConfig, layout: NodeLayout, mesh: NodeMesh, exits: AsyncExitStack
) -> StorageAccess:
    transport = mesh.transport
    storage = await open_storage(
        config.storage,
        nats=transport.client if isinstance(transport, NatsTransport) else None,
        swarm_domain=swarm_domain(config),
    )
    exits.push_async_callback(storage.close)
    settings = config.storage
    return StorageAccess(
        storage=storage,
        volume_dir=volume_dir(config, layout),
        input_max_bytes=settings.input_max_bytes,
        output_max_bytes=settings.output_max_bytes,
        attempts=settings.attempts,
        retry_seconds=settings.retry_seconds,
    )
