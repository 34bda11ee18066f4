"""Fixtures for replication tests: a real hub with two leaf servers, clients, stream, logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from nunet.db import MemoryDocumentStore
from nunet.eventlog import SQLiteEventLog, open_sqlite_log
from nunet.replication import ensure_swarm_stream
from tests.support.nats import LeafMesh, leaf_mesh

DOMAIN = "hub"  # the test hub's JetStream domain; production uses nunet.mesh.SWARM_DOMAIN
NODE_A = "did:key:z6MkReplicationNodeA"
NODE_B = "did:key:z6MkReplicationNodeB"


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[LeafMesh]:
    async with leaf_mesh(tmp_path / "nats", leaves=2) as started:
        yield started


async def connect(url: str) -> NatsClient:
    """A client that keeps reconnecting (as a node's does) instead of giving up."""
    return await nats.connect(
        url, max_reconnect_attempts=-1, reconnect_time_wait=0.1, connect_timeout=5
    )


@pytest.fixture
async def writer_nc(mesh: LeafMesh) -> AsyncIterator[NatsClient]:
    """The writing node's connection, to its own leaf server."""
    nc = await connect(mesh.leaves[0].url)
    await ensure_swarm_stream(nc.jetstream(domain=DOMAIN))
    yield nc
    await nc.close()


@pytest.fixture
async def reader_nc(mesh: LeafMesh, writer_nc: NatsClient) -> AsyncIterator[NatsClient]:
    """Another node's connection, to another leaf server."""
    nc = await connect(mesh.leaves[1].url)
    yield nc
    await nc.close()


@pytest.fixture
async def node_log(tmp_path: Path) -> AsyncIterator[SQLiteEventLog]:
    log = await open_sqlite_log(tmp_path / "a" / "events.db")
    yield log
    await log.close()


@pytest.fixture
def store() -> MemoryDocumentStore:
    return MemoryDocumentStore()
