"""SwarmLogReader on another leaf: one node or the whole swarm, de-duplicated, reordered, verified."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
from nats.aio.client import Client as NatsClient

from nunet.db import MemoryDocumentStore
from nunet.eventlog import EventRecord, SQLiteEventLog, open_sqlite_log
from nunet.replication import ChainProblem, NodeRecord, Outbox, SwarmLogReader
from nunet.replication.stream import (
    Span,
    batch_headers,
    encode_batch,
    encode_record,
    msg_id,
    node_subject,
)
from tests.eventlog.samples import pings
from tests.replication.conftest import DOMAIN, NODE_A, NODE_B
from tests.replication.streams import publish_batch, publish_raw

TIMEOUT = 60.0


async def local_records(log: SQLiteEventLog) -> list[EventRecord]:
    return [record async for record in log.read()]


def tampered(record: EventRecord) -> EventRecord:
    return msgspec.structs.replace(record, payload=msgspec.msgpack.encode({"n": -1}))


async def test_a_node_read_gives_its_records_once_in_order_despite_resends_and_reordering(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    await node_log.append_many(pings(40))
    records = await local_records(node_log)
    js = writer_nc.jetstream(domain=DOMAIN)
    # the stream as a troubled outbox could leave it: 1..10, 12 before 11, a re-send of 5
    # without its id (so the stream keeps it), a tampered 11 before the genuine one
    order = [*records[:10], records[11], records[4], tampered(records[10]), *records[10:]]
    for record in order:
        await publish_raw(js, NODE_A, record)
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [record async for record in reader.node(NODE_A, follow=False)]
    assert got == records
    assert [(p.seq, p.kind) for p in problems] == [(11, "tampered")]


async def test_format_1_and_batched_messages_mix_in_one_stream_and_overlaps_are_dropped(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    """An outbox of an older nunet wrote 1..10 one by one; an upgraded one went on with batches,
    re-sending some of the same records in other boundaries."""
    await node_log.append_many(pings(30))
    records = await local_records(node_log)
    js = writer_nc.jetstream(domain=DOMAIN)
    for record in records[:10]:
        await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    await publish_batch(js, NODE_A, records[8:20])  # 9..20
    await publish_raw(js, NODE_A, records[14])  # 15 again, format 1
    await publish_batch(js, NODE_A, records[24:30])  # 25..30, ahead of 21..24
    await publish_batch(js, NODE_A, records[17:25])  # 18..25
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [record async for record in reader.node(NODE_A, follow=False)]
        swarm = [item.record async for item in reader.swarm(follow=False)]
    assert got == records
    assert swarm == records
    assert problems == []


async def test_a_batch_whose_id_does_not_name_its_records_is_refused_as_malformed(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    await node_log.append_many(pings(6))
    records = await local_records(node_log)
    js = writer_nc.jetstream(domain=DOMAIN)
    await publish_batch(js, NODE_A, records[:3])
    await js.publish(
        node_subject(NODE_A),
        encode_batch([encode_record(r) for r in records[3:]]),
        headers=batch_headers(NODE_A, Span(4, 5)),  # carries 4..6
    )
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [record.seq async for record in reader.node(NODE_A, follow=False)]
    assert got == [1, 2, 3]
    assert [p.kind for p in problems] == ["malformed"]


async def test_a_record_that_breaks_the_chain_is_reported_and_not_delivered(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient, tmp_path: Path
) -> None:
    await node_log.append_many(pings(10))
    records = await local_records(node_log)
    other_log = await open_sqlite_log(tmp_path / "other.db")  # another chain, same seqs
    await other_log.append_many(pings(10, 100))
    impostor = await other_log.get(6)
    await other_log.close()
    assert impostor is not None
    js = writer_nc.jetstream(domain=DOMAIN)
    for record in records[:5]:
        await publish_raw(js, NODE_A, record)
    await publish_raw(js, NODE_A, impostor)  # well-formed, but not linked to seq 5
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [record.seq async for record in reader.node(NODE_A, follow=False)]
    assert got == [1, 2, 3, 4, 5]
    assert [(p.seq, p.kind) for p in problems] == [(6, "broken-chain")]


async def test_a_gap_still_open_at_the_end_of_a_read_is_reported(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    await node_log.append_many(pings(6))
    records = await local_records(node_log)
    js = writer_nc.jetstream(domain=DOMAIN)
    for record in records[:3] + records[4:]:
        await publish_raw(js, NODE_A, record)
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [record.seq async for record in reader.node(NODE_A, follow=False)]
    assert got == [1, 2, 3]
    assert [(p.seq, p.kind) for p in problems] == [(4, "gap")]


async def test_reading_from_a_seq_skips_the_records_before_it(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    await node_log.append_many(pings(30))
    js = writer_nc.jetstream(domain=DOMAIN)
    async for record in node_log.read():
        await publish_raw(js, NODE_A, record, msg_id=msg_id(NODE_A, record.seq))
    reader = SwarmLogReader(reader_nc, DOMAIN)
    async with asyncio.timeout(TIMEOUT):
        got = [r.seq async for r in reader.node(NODE_A, from_seq=25, follow=False)]
    assert got == [25, 26, 27, 28, 29, 30]


async def test_an_empty_subject_reads_as_nothing(reader_nc: NatsClient) -> None:
    reader = SwarmLogReader(reader_nc, DOMAIN)
    async with asyncio.timeout(TIMEOUT):
        assert [r async for r in reader.node(NODE_A, follow=False)] == []
        assert [r async for r in reader.swarm(follow=False)] == []


async def test_following_a_node_delivers_records_as_the_outbox_replicates_them(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient
) -> None:
    outbox = Outbox(node_log, writer_nc.jetstream(domain=DOMAIN), MemoryDocumentStore(), NODE_A)
    replicating = asyncio.create_task(outbox.run())
    reader = SwarmLogReader(reader_nc, DOMAIN)
    got: list[EventRecord] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            follower = reader.node(NODE_A)
            await node_log.append_many(pings(100))
            async for record in follower:
                got.append(record)
                if record.seq == 100:
                    await node_log.append_many(pings(200, 100))  # more while following
                if record.seq == 300:
                    break
            await follower.aclose()
    finally:
        replicating.cancel()
        await asyncio.gather(replicating, return_exceptions=True)
    assert got == await local_records(node_log)


async def test_the_swarm_read_gives_every_node_in_its_own_order(
    node_log: SQLiteEventLog, writer_nc: NatsClient, reader_nc: NatsClient, tmp_path: Path
) -> None:
    log_b = await open_sqlite_log(tmp_path / "b.db")
    await node_log.append_many(pings(50))
    await log_b.append_many(pings(30))
    records_a = await local_records(node_log)
    records_b = await local_records(log_b)
    await log_b.close()
    js = writer_nc.jetstream(domain=DOMAIN)
    # interleaved, with a re-send of each node's first record and B's 2 after its 3
    for index in range(50):
        await publish_raw(js, NODE_A, records_a[index])
        if index < 30:
            b_index = {1: 2, 2: 1}.get(index, index)
            await publish_raw(js, NODE_B, records_b[b_index])
    await publish_raw(js, NODE_A, records_a[0])
    await publish_raw(js, NODE_B, records_b[0])
    problems: list[ChainProblem] = []
    reader = SwarmLogReader(reader_nc, DOMAIN, on_problem=problems.append)
    async with asyncio.timeout(TIMEOUT):
        got = [item async for item in reader.swarm(follow=False)]
    assert [i.record for i in got if i.node == NODE_A] == records_a
    assert [i.record for i in got if i.node == NODE_B] == records_b
    assert len(got) == 80
    assert problems == []
    assert all(isinstance(item, NodeRecord) for item in got)
