"""A replica on another leaf builds a node's projection from the swarm log, equal to a local replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from nats.aio.client import Client as NatsClient

from nunet.db import MemoryDocumentStore
from nunet.eventlog import (
    Checkpointer,
    EventLog,
    LogStatistics,
    SQLiteEventLog,
    open_sqlite_log,
    replay,
)
from nunet.eventlog.chain import expected_hash
from nunet.identity import KeyPair
from nunet.replication import Outbox, Replica, SwarmLogReader
from tests.eventlog.samples import Noted, pings
from tests.replication.conftest import DOMAIN, NODE_A, NODE_B
from tests.replication.streams import publish_raw

TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def replicating(log: EventLog, nc: NatsClient, node: str) -> AsyncIterator[Outbox]:
    outbox = Outbox(log, nc.jetstream(domain=DOMAIN), MemoryDocumentStore(), node)
    task = asyncio.create_task(outbox.run())
    try:
        yield outbox
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_following_replica_equals_a_local_replay_of_the_same_log(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    projection = LogStatistics()
    replica = Replica(SwarmLogReader(reader_nc, DOMAIN), NODE_A, projection)
    following = asyncio.create_task(replica.run())
    try:
        async with replicating(node_log, writer_nc, NODE_A):
            for batch in range(10):
                await node_log.append_many(pings(90, batch * 90), actor=f"/actor/{batch % 3}")
                await node_log.append(Noted(text=f"batch {batch}"), actor="/notes")
            head = (await node_log.head())[0]
            async with asyncio.timeout(TIMEOUT):
                await replica.wait_for(head)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    position, expected = await replay(node_log, projection)
    assert replica.position == position == 910
    assert projection.encode_state(replica.state) == projection.encode_state(expected)
    assert replica.problems == []


async def test_a_replica_catches_up_and_never_applies_a_tampered_record(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    await node_log.append_many(pings(20), actor="/a")
    js = writer_nc.jetstream(domain=DOMAIN)
    records = [record async for record in node_log.read()]
    for record in records[:10]:
        await publish_raw(js, NODE_A, record)
    forged = msgspec.structs.replace(records[10], actor="/forged")  # hash left as it was
    await publish_raw(js, NODE_A, forged)
    projection = LogStatistics()
    replica = Replica(SwarmLogReader(reader_nc, DOMAIN), NODE_A, projection)
    async with asyncio.timeout(TIMEOUT):
        await replica.catch_up()
    assert replica.position == 10
    assert "/forged" not in replica.state.by_actor
    assert [(p.seq, p.kind) for p in replica.problems] == [(11, "tampered")]
    for record in records[10:]:
        await publish_raw(js, NODE_A, record)
    async with asyncio.timeout(TIMEOUT):
        state = await replica.catch_up()  # continues from seq 11, checking its link to 10
    _, expected = await replay(node_log, projection)
    assert replica.position == 20
    assert projection.encode_state(state) == projection.encode_state(expected)


async def test_following_the_swarm_sees_every_node_replicating(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient, tmp_path: Path
) -> None:
    log_b = await open_sqlite_log(tmp_path / "b.db")
    reader = SwarmLogReader(reader_nc, DOMAIN)
    seen: dict[str, list[int]] = {NODE_A: [], NODE_B: []}
    try:
        async with (
            replicating(node_log, writer_nc, NODE_A),
            replicating(log_b, writer_nc, NODE_B),
            asyncio.timeout(TIMEOUT),
        ):
            follower = reader.swarm()
            await node_log.append_many(pings(150))
            await log_b.append_many(pings(120))
            async for item in follower:
                seen[item.node].append(item.record.seq)
                if len(seen[NODE_A]) == 150 and len(seen[NODE_B]) == 120:
                    break
            await follower.aclose()
    finally:
        await log_b.close()
    assert seen == {NODE_A: list(range(1, 151)), NODE_B: list(range(1, 121))}


async def test_a_replica_knows_how_far_the_nodes_signed_checkpoints_authenticate_its_log(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient, tmp_path: Path
) -> None:
    node = KeyPair.generate()
    await node_log.append_many(pings(50))
    checkpoint = await Checkpointer(node_log, node).checkpoint()  # seq 51, vouching for 50
    assert checkpoint is not None
    await node_log.append_many(pings(10, 50))  # 52..61: chained, not yet vouched for
    # a forger's checkpoint for the same head, at 51, reaches the stream first
    forger_log = await open_sqlite_log(tmp_path / "forger.db")
    await forger_log.append_many(pings(50))
    forgery = await Checkpointer(forger_log, KeyPair.generate()).checkpoint()
    await forger_log.close()
    assert forgery is not None
    forged = msgspec.structs.replace(
        forgery,
        prev_hash=(await node_log.get(50)).hash,  # type: ignore[union-attr]
    )
    forged = msgspec.structs.replace(forged, hash=expected_hash(forged))
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read(1, 50):
        await publish_raw(js, node.did, record)
    await publish_raw(js, node.did, forged)
    replica = Replica(SwarmLogReader(reader_nc, DOMAIN), node.did, LogStatistics())
    async with asyncio.timeout(TIMEOUT):
        await replica.catch_up()
    assert (replica.position, replica.authenticated) == (50, 0)
    assert [(p.seq, p.kind) for p in replica.problems] == [(51, "bad-checkpoint")]
    async with replicating(node_log, writer_nc, node.did) as outbox:
        async with asyncio.timeout(TIMEOUT):
            await outbox.wait_for(61)
            await replica.catch_up()
    assert (replica.position, replica.authenticated) == (61, 50)
