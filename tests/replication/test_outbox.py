"""The outbox against a real hub and leaf servers: order, ids, restarts, hub loss, lost cursors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from nunet.db import MemoryDocumentStore
from nunet.eventlog import EventLog, SQLiteEventLog
from nunet.replication import Backoff, CursorStore, Outbox, ReplicationStalled, measure_lag
from nunet.replication.events import ReplicationResumed
from nunet.replication.stream import msg_id
from tests.eventlog.samples import Pinged, pings
from tests.replication.conftest import DOMAIN, NODE_A
from tests.replication.streams import eventually, publish_raw, stored
from tests.support.nats import LeafMesh

TIMEOUT = 60.0


def outbox(log: EventLog, nc: NatsClient, store: MemoryDocumentStore, **options: object) -> Outbox:
    return Outbox(
        log,
        nc.jetstream(domain=DOMAIN),
        store,
        NODE_A,
        backoff=Backoff(0.02, 0.5),
        **options,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def running(box: Outbox) -> AsyncIterator[Outbox]:
    task = asyncio.create_task(box.run())
    try:
        yield box
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def append(log: EventLog, count: int, batch: int = 50) -> int:
    for start in range(0, count, batch):
        await log.append_many(pings(min(batch, count - start), start))
    return (await log.head())[0]


async def replicated_seqs(nc: NatsClient) -> list[int]:
    return [record.seq for _, record in await stored(nc.jetstream(domain=DOMAIN), NODE_A)]


async def test_records_reach_the_hub_stream_in_order_with_their_ids(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    head = await append(node_log, 500)
    async with running(outbox(node_log, writer_nc, store, window=64)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(head)
        assert box.lag == 0
        assert not box.stalled
    messages = await stored(writer_nc.jetstream(domain=DOMAIN), NODE_A)
    local = [record async for record in node_log.read()]
    assert [record for _, record in messages] == local
    assert [ident for ident, _ in messages] == [msg_id(NODE_A, r.seq) for r in local]
    assert await CursorStore(store, NODE_A).load() == head  # saved on exit


async def test_live_appends_are_replicated_as_they_are_written(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    async with running(outbox(node_log, writer_nc, store)) as box:
        for round_ in range(5):
            head = await append(node_log, 100)
            async with asyncio.timeout(TIMEOUT):
                await box.wait_for(head)
            assert box.position == head, round_
    assert await replicated_seqs(writer_nc) == list(range(1, 501))


async def test_a_restarted_outbox_resumes_with_no_duplicates_and_no_loss(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    seen: list[int] = []
    watcher = await writer_nc.subscribe("nunet.log.>", cb=counter(seen))  # every publish
    head = await append(node_log, 300)
    async with running(outbox(node_log, writer_nc, store)) as first:
        async with asyncio.timeout(TIMEOUT):
            await first.wait_for(head)
    head = await append(node_log, 300)
    async with running(outbox(node_log, writer_nc, store)) as second:
        async with asyncio.timeout(TIMEOUT):
            await second.wait_for(head)
    await writer_nc.flush()
    await watcher.unsubscribe()
    assert await replicated_seqs(writer_nc) == list(range(1, 601))
    assert sorted(seen) == list(range(1, 601))  # the second one sent nothing the first had


def counter(seen: list[int]) -> Callable[[Msg], Awaitable[None]]:
    """A core NATS callback noting the seq of every publish it sees, duplicates included."""

    async def count(msg: Msg) -> None:
        seen.append(int(msg.headers["Nats-Msg-Id"].rpartition(":")[2]) if msg.headers else -1)

    return count


async def test_a_lost_cursor_is_reconciled_with_the_stream_resending_only_a_window(
    node_log: SQLiteEventLog, writer_nc: NatsClient
) -> None:
    head = await append(node_log, 400)
    async with running(outbox(node_log, writer_nc, MemoryDocumentStore())) as first:
        async with asyncio.timeout(TIMEOUT):
            await first.wait_for(head)
    seen: list[int] = []
    watcher = await writer_nc.subscribe("nunet.log.>", cb=counter(seen))
    head = await append(node_log, 100)
    lost = MemoryDocumentStore()  # the cursor is gone
    async with running(outbox(node_log, writer_nc, lost, window=64)) as second:
        async with asyncio.timeout(TIMEOUT):
            await second.wait_for(head)
    await writer_nc.flush()
    await watcher.unsubscribe()
    assert sorted(seen) == list(range(400 - 64 + 1, 501))  # only the last window again
    assert await replicated_seqs(writer_nc) == list(range(1, 501))  # the stream dropped those


async def test_a_gap_left_before_a_crash_is_filled_although_the_cursor_is_lost(
    node_log: SQLiteEventLog, writer_nc: NatsClient
) -> None:
    """A publish was lost, later ones were stored, then the process died: the stream ends at 110
    with 101 missing. A restarted outbox without a cursor must not skip 101."""
    await append(node_log, 120)
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read(1, 110):
        if record.seq != 101:
            await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    async with running(outbox(node_log, writer_nc, MemoryDocumentStore(), window=32)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(120)
    assert sorted(await replicated_seqs(writer_nc)) == list(range(1, 121))


async def test_a_cursor_ahead_of_the_stream_sends_again_what_the_stream_lost(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    await append(node_log, 300)
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read(1, 200):
        await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    await CursorStore(store, NODE_A).save(300)  # acknowledged once; the hub lost 201..300
    async with running(outbox(node_log, writer_nc, store, window=32)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(300)
        await eventually(lambda: box.position == 300)
    assert await replicated_seqs(writer_nc) == list(range(1, 301))


async def test_killing_the_hub_while_appending_loses_and_duplicates_nothing(
    mesh: LeafMesh, node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    total = 2000
    hub_killed = asyncio.Event()

    async def appender() -> None:
        for start in range(0, total, 20):
            await node_log.append_many(pings(20, start))
            if start == 600:
                hub_killed.set()
            if start >= 600:
                await asyncio.sleep(0)  # let the outbox run into the dead hub

    async with running(outbox(node_log, writer_nc, store, window=64, ack_timeout=2.0)) as box:
        writing = asyncio.create_task(appender())
        async with asyncio.timeout(TIMEOUT):
            await hub_killed.wait()
            await mesh.hub.kill()
            await eventually(lambda: box.stalled)
            await writing
            await mesh.hub.start()
            await mesh.hub.wait_for_leaves(2)
            head = (await node_log.head())[0]
            await box.wait_for(head)
        assert box.stalls >= 1
    records = [record async for record in node_log.read()]
    assert [r.type for r in records].count(ReplicationStalled.TYPE) >= 1
    assert [r.type for r in records].count(ReplicationResumed.TYPE) >= 1
    replicated = await replicated_seqs(writer_nc)
    assert sorted(replicated) == list(range(1, len(records) + 1))  # every record exactly once


async def test_measure_lag_samples_the_lag_under_a_steady_rate_and_drains(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    async with running(outbox(node_log, writer_nc, store)) as box:
        async with asyncio.timeout(TIMEOUT):
            report = await measure_lag(node_log, box, lambda i: Pinged(n=i), rate=5000, records=300)
        assert box.position == 300
    assert len(report.samples) == 30
    assert 0 <= report.percentile(0.5) <= report.max_lag <= 300
    assert await replicated_seqs(writer_nc) == list(range(1, 301))
