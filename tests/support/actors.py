"""Building blocks for actor-runtime tests: systems on an in-memory network, waiting on the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec

from nunet.actor import ActorSystem, EnvelopeGuard, RatePolicy, ReplayWindow
from nunet.eventlog import Event, EventLog, EventRecord, open_sqlite_log
from nunet.identity import KeyPair
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.ucan import CapabilityContext, MemoryAnchorStore

E = TypeVar("E", bound=Event)


@dataclass
class NodeUnderTest:
    key: KeyPair
    log: EventLog
    anchors: MemoryAnchorStore
    capabilities: CapabilityContext
    system: ActorSystem
    transport: InMemoryTransport


@asynccontextmanager
async def running_node(
    network: InMemoryNetwork,
    directory: Path,
    *,
    rates: RatePolicy | None = None,
    key: KeyPair | None = None,
) -> AsyncIterator[NodeUnderTest]:
    key = key or KeyPair.generate()
    async with AsyncExitStack() as stack:
        log = await open_sqlite_log(directory / f"{key.did[-8:]}.db")
        stack.push_async_callback(log.close)
        anchors = MemoryAnchorStore(key.did)
        capabilities = CapabilityContext(key.did, anchors)
        transport = InMemoryTransport(network, key.did)
        system = ActorSystem(
            key,
            transport,
            log,
            EnvelopeGuard(key.did, capabilities, rates=rates, replay=ReplayWindow()),
            proofs=lambda behavior, topic: capabilities.proofs_for(
                behavior, topic=topic, now=time.time()
            ),
        )
        await system.start()
        stack.push_async_callback(system.close)
        yield NodeUnderTest(key, log, anchors, capabilities, system, transport)


async def wait_for_event(
    log: EventLog,
    kind: type[E],
    where: Callable[[E], bool] = lambda _: True,
    *,
    timeout: float = 5.0,
) -> tuple[EventRecord, E]:
    """The first record of type `kind` matching `where`, waiting for it to be appended."""
    async with asyncio.timeout(timeout):
        async for record in log.tail(1):
            if record.type == kind.TYPE:
                event = msgspec.msgpack.decode(record.payload, type=kind)
                if where(event):
                    return record, event
    raise AssertionError("the log's tail ended")


async def events_of(log: EventLog, kind: type[E]) -> list[E]:
    """Every event of type `kind` committed so far."""
    return [
        msgspec.msgpack.decode(record.payload, type=kind)
        async for record in log.read(types=[kind.TYPE])
    ]
