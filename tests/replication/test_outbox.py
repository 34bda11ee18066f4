"""The outbox against a real hub and leaf servers: batches, order, ids, restarts, hub loss, lost
acknowledgements and cursors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from nunet.db import MemoryDocumentStore
from nunet.eventlog import EventLog, SQLiteEventLog
from nunet.replication import Backoff, CursorStore, Outbox, ReplicationStalled, measure_lag
from nunet.replication.events import ReplicationResumed
from nunet.replication.stream import MSG_ID, Span, batch_msg_id, msg_id, span_of_msg_id
from tests.eventlog.samples import Noted, Pinged, pings
from tests.replication.conftest import DOMAIN, NODE_A
from tests.replication.streams import eventually, publish_raw, stored, stored_records
from tests.support.nats import LeafMesh

TIMEOUT = 60.0


def outbox(
    log: EventLog,
    nc: NatsClient,
    store: MemoryDocumentStore,
    js: Any = None,
    **options: object,
) -> Outbox:
    return Outbox(
        log,
        js or nc.jetstream(domain=DOMAIN),
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
    """The seq of every record the stream holds for NODE_A, in stream order, duplicates included."""
    return [record.seq for record in await stored_records(nc.jetstream(domain=DOMAIN), NODE_A)]


async def test_records_ready_together_go_as_batches_in_order_with_their_ids(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    head = await append(node_log, 500)
    async with running(outbox(node_log, writer_nc, store, window=4, batch_records=100)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(head)
        assert box.lag == 0
        assert not box.stalled
    messages = await stored(writer_nc.jetstream(domain=DOMAIN), NODE_A)
    local = [record async for record in node_log.read()]
    assert [record for message in messages for record in message.records] == local
    for message in messages:
        span = Span(message.records[0].seq, message.records[-1].seq)
        assert message.msg_id == batch_msg_id(NODE_A, span)
        assert 1 <= len(message.records) <= 100
    assert len(messages) < 50  # records read ahead together share messages
    assert box.messages == len(messages)
    assert await CursorStore(store, NODE_A).load() == head  # saved on exit


async def test_records_that_trickle_go_one_per_message_at_once(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    async with running(outbox(node_log, writer_nc, store)) as box:
        for n in range(20):
            record = await node_log.append(Pinged(n=n))
            async with asyncio.timeout(TIMEOUT):
                await box.wait_for(record.seq)  # never held back to fill a batch
    messages = await stored(writer_nc.jetstream(domain=DOMAIN), NODE_A)
    assert [[r.seq for r in message.records] for message in messages] == [
        [seq] for seq in range(1, 21)
    ]
    assert [message.msg_id for message in messages] == [
        f"{NODE_A}:{seq}-{seq}" for seq in range(1, 21)
    ]


@pytest.mark.parametrize(
    ("batch_bytes", "blob_size"),
    [(64 * 1024, 20_000), (8 * 1024 * 1024, 300_000)],  # the second is capped by max_payload
    ids=["batch_bytes", "max_payload"],
)
async def test_large_records_are_split_across_messages_under_the_byte_limit(
    node_log: SQLiteEventLog,
    writer_nc: NatsClient,
    store: MemoryDocumentStore,
    batch_bytes: int,
    blob_size: int,
) -> None:
    await node_log.append_many([Noted(text=str(n), blob=b"x" * blob_size) for n in range(10)])
    limit = min(batch_bytes, writer_nc.max_payload - 1024)
    async with running(outbox(node_log, writer_nc, store, batch_bytes=batch_bytes)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(10)
    messages = await stored(writer_nc.jetstream(domain=DOMAIN), NODE_A)
    assert [len(message.records) for message in messages] == [3, 3, 3, 1]
    assert all(message.size <= limit for message in messages)
    assert [r.seq for message in messages for r in message.records] == list(range(1, 11))


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
    """A core NATS callback noting the seq of every record published, duplicates included."""

    async def count(msg: Msg) -> None:
        if msg.headers is None or MSG_ID not in msg.headers:
            seen.append(-1)
            return
        span = span_of_msg_id(msg.headers[MSG_ID])
        seen.extend(range(span.first, span.last + 1))

    return count


async def test_a_lost_cursor_is_reconciled_with_the_stream_sending_only_what_it_lacks(
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
    assert sorted(seen) == list(range(401, 501))  # nothing the stream holds is sent again
    assert await replicated_seqs(writer_nc) == list(range(1, 501))


async def test_a_gap_left_before_a_crash_is_filled_although_the_cursor_is_lost(
    node_log: SQLiteEventLog, writer_nc: NatsClient
) -> None:
    """A publish was lost, later ones were stored, then the process died: the stream ends at 110
    with 101 missing. A restarted outbox without a cursor must not skip 101."""
    await append(node_log, 120)
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read(1, 110):  # format 1, as an older outbox left them
        if record.seq != 101:
            await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    seen: list[int] = []
    watcher = await writer_nc.subscribe("nunet.log.>", cb=counter(seen))
    async with running(outbox(node_log, writer_nc, MemoryDocumentStore(), window=2)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(120)
    await writer_nc.flush()
    await watcher.unsubscribe()
    assert sorted(seen) == [101, *range(111, 121)]
    assert sorted(await replicated_seqs(writer_nc)) == list(range(1, 121))


async def test_a_cursor_ahead_of_the_stream_sends_again_what_the_stream_lost(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    await append(node_log, 300)
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read(1, 200):
        await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    await CursorStore(store, NODE_A).save(300)  # acknowledged once; the hub lost 201..300
    async with running(outbox(node_log, writer_nc, store, window=2)) as box:
        async with asyncio.timeout(TIMEOUT):
            await box.wait_for(300)
        await eventually(lambda: box.position == 300)
    assert await replicated_seqs(writer_nc) == list(range(1, 301))


async def test_an_idle_outbox_notices_the_stream_lost_its_latest_messages_and_resends_them(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    """A hub that restarts before writing what it acknowledged fails no publish; the outbox's
    audit finds its last message gone and sends the records again."""
    js = writer_nc.jetstream(domain=DOMAIN)
    box = outbox(node_log, writer_nc, store, audit_every=0.05)
    async with running(box):
        for n in range(10):
            record = await node_log.append(Pinged(n=n))
            async with asyncio.timeout(TIMEOUT):
                await box.wait_for(record.seq)
        for _ in range(3):  # the stream "forgets" records 8..10
            last = await js.get_last_msg("NUNET_LOG", f"nunet.log.{NODE_A}")
            await js.delete_msg("NUNET_LOG", last.seq)
        assert await replicated_seqs(writer_nc) == list(range(1, 8))
        async with asyncio.timeout(TIMEOUT):
            await eventually(lambda: box.stalls == 1 and not box.stalled)
            head = await all_replicated(box, node_log)
    replicated = await replicated_seqs(writer_nc)
    assert sorted(replicated) == list(range(1, head + 1))
    types = [record.type async for record in node_log.read(11)]
    assert types == [ReplicationStalled.TYPE, ReplicationResumed.TYPE]


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


async def all_replicated(box: Outbox, log: EventLog) -> int:
    """Wait until the outbox recovered from its stall and sent everything (the stall and
    recovery events included); the log's head then."""
    await box.wait_for((await log.head())[0])
    await eventually(lambda: not box.stalled)
    head = (await log.head())[0]
    await box.wait_for(head)
    return head


class LosingAcks:
    """A JetStreamContext that withholds the acknowledgements of some publishes (numbered from
    1): the message is stored and its acknowledgement lost, or (`hold`) it is not sent at all
    until `deliver_late()`, as a message stuck in a cut link arrives after the outbox gave up on
    it. The outbox gives up when `time_out()` fails the first withheld acknowledgement."""

    def __init__(self, js: JetStreamContext, lose: set[int], *, hold: bool = False) -> None:
        self._js = js
        self._lose = lose
        self._hold = hold
        self.publishes: list[str] = []  # message ids, in publish order
        self.lost: list[tuple[str, bytes, dict[str, str]]] = []
        self._withheld: list[asyncio.Future[api.PubAck]] = []

    async def publish_async(
        self, subject: str, payload: bytes, *, headers: dict[str, str]
    ) -> asyncio.Future[api.PubAck]:
        self.publishes.append(headers[MSG_ID])
        if len(self.publishes) not in self._lose:
            return await self._js.publish_async(subject, payload, headers=headers)
        self.lost.append((subject, payload, headers))
        if not self._hold:
            await self._js.publish(subject, payload, headers=headers)
        withheld: asyncio.Future[api.PubAck] = asyncio.get_running_loop().create_future()
        self._withheld.append(withheld)
        return withheld

    def time_out(self) -> None:
        self._withheld[0].set_exception(TimeoutError())

    async def deliver_late(self) -> list[api.PubAck]:
        return [
            await self._js.publish(subject, payload, headers=headers)
            for subject, payload, headers in self.lost
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


async def test_a_message_stored_with_its_acknowledgement_lost_is_not_sent_again(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    js = LosingAcks(writer_nc.jetstream(domain=DOMAIN), {2})
    await append(node_log, 300)
    box = outbox(node_log, writer_nc, store, js, batch_records=100)
    async with running(box):
        async with asyncio.timeout(TIMEOUT):
            await eventually(lambda: len(js.publishes) == 3)
            js.time_out()
            head = await all_replicated(box, node_log)
        assert box.stalls == 1
    lost_id = js.lost[0][2][MSG_ID]
    assert js.publishes.count(lost_id) == 1  # the stream was asked, not sent to again
    assert await replicated_seqs(writer_nc) == list(range(1, head + 1))
    assert len(js.publishes) == len(await stored(writer_nc.jetstream(domain=DOMAIN), NODE_A))


async def test_messages_given_up_on_are_sent_again_as_they_were_so_late_copies_are_dropped(
    node_log: SQLiteEventLog, writer_nc: NatsClient, store: MemoryDocumentStore
) -> None:
    """Messages 2 and 3 (31-60, 61-90) are stuck on the way; 4 (91-120) is stored. Sent again
    with new boundaries, 31-90 would be one message, and the late copies would be stored too."""
    js = LosingAcks(writer_nc.jetstream(domain=DOMAIN), {2, 3}, hold=True)
    box = outbox(node_log, writer_nc, store, js, batch_records=100)
    async with running(box):
        async with asyncio.timeout(TIMEOUT):
            for chunk in range(4):
                await node_log.append_many(pings(30, chunk * 30))  # one commit: one message
                await eventually(lambda n=chunk + 1: len(js.publishes) == n)
            js.time_out()
            head = await all_replicated(box, node_log)
            late = await js.deliver_late()
        assert box.stalls == 1
    lost_ids = [headers[MSG_ID] for _, _, headers in js.lost]
    assert lost_ids == [f"{NODE_A}:31-60", f"{NODE_A}:61-90"]
    assert [js.publishes.count(ident) for ident in lost_ids] == [2, 2]  # sent again as they were
    assert [ack.duplicate for ack in late] == [True, True]  # so the late copies were dropped
    assert sorted(await replicated_seqs(writer_nc)) == list(range(1, head + 1))


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
