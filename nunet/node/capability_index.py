"""The node's capability index and what keeps it current: the swarm's replicated logs where
the node is in a swarm with a stream, else its own log (a node on its own, memory mode)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from nunet.eventlog import EventLog
from nunet.index import INDEXED_TYPES, CapabilityIndex, IndexProjection, SwarmIndexer
from nunet.mesh import SWARM_DOMAIN
from nunet.network.nats import NatsTransport
from nunet.node.config import NodeConfig
from nunet.node.mesh import NodeMesh
from nunet.replication import SwarmLogReader

log = structlog.get_logger("nunet.node")


def start_index_feed(
    index: CapabilityIndex, mesh: NodeMesh, config: NodeConfig, log_: EventLog, did: str
) -> asyncio.Task[None]:
    """A task applying events to `index` until cancelled."""
    transport = mesh.transport
    in_swarm = (
        config.mesh.hub is not None or config.mesh.bootstrap or config.mesh.mode == "external"
    )
    if isinstance(transport, NatsTransport) and in_swarm:
        reader = SwarmLogReader(transport.client, SWARM_DOMAIN)
        return asyncio.create_task(
            _guarded(SwarmIndexer(reader, index).run()), name="capability-index:swarm"
        )
    return asyncio.create_task(_guarded(_own_log(index, log_, did)), name="capability-index:own")


async def _own_log(index: CapabilityIndex, log_: EventLog, did: str) -> None:
    projection = IndexProjection(did)
    async for record in log_.tail(1):
        if record.type in INDEXED_TYPES:
            projection.evolve(index, record)


async def _guarded(feed: Coroutine[Any, Any, None]) -> None:
    try:
        await feed
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the index goes stale; the node carries on and says so
        log.error("capability index feed stopped", error=repr(exc))
