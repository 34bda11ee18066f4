"""Tailing over a live feed: slow consumers overflow to the store and still miss nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from nunet.eventlog import ZERO_HASH, EventRecord
from nunet.eventlog.chain import seal
from nunet.eventlog.feed import LiveFeed
from nunet.eventlog.reading import tail_records


class ListStore:
    """Records in a list: the smallest real store, to drive tail_records directly."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []
        self.feed = LiveFeed(max_pending=5)
        self.commit_during_next_read = 0

    def commit(self, count: int) -> None:
        seq, prev = (
            (self.records[-1].seq, self.records[-1].hash) if self.records else (0, ZERO_HASH)
        )
        batch = seal([("t", 1, "", b"")] * count, seq, prev, 1)
        self.records.extend(batch)
        self.feed.publish(batch)

    async def read_page(
        self, from_seq: int, to_seq: int | None, types: Collection[str] | None, limit: int
    ) -> list[EventRecord]:
        if self.commit_during_next_read:  # a commit racing with a tail's history read
            count, self.commit_during_next_read = self.commit_during_next_read, 0
            self.commit(count)
        last = to_seq if to_seq is not None else len(self.records)
        return self.records[from_seq - 1 : last][:limit]


async def test_a_tail_that_falls_behind_rereads_from_the_store_without_gaps() -> None:
    store = ListStore()
    store.commit(3)
    tail = tail_records(store.read_page, store.feed, 1, poll_interval=60)
    first = [await anext(tail) for _ in range(3)]
    for _ in range(10):  # 20 records while the consumer is away: overflows max_pending=5
        store.commit(2)
    async with asyncio.timeout(5):
        rest = [await anext(tail) for _ in range(20)]
    assert [r.seq for r in first + rest] == list(range(1, 24))
    store.commit(1)
    async with asyncio.timeout(5):
        assert (await anext(tail)).seq == 24
    await tail.aclose()


async def test_records_both_read_and_delivered_are_yielded_once() -> None:
    store = ListStore()
    store.commit_during_next_read = 2  # records 1-2: in the history read *and* on the feed
    tail = tail_records(store.read_page, store.feed, 1, poll_interval=60)
    async with asyncio.timeout(5):
        got = [await anext(tail), await anext(tail)]
    store.commit(1)
    async with asyncio.timeout(5):
        got.append(await anext(tail))
    assert [r.seq for r in got] == [1, 2, 3]
    await tail.aclose()


async def test_closing_the_feed_ends_the_tail() -> None:
    store = ListStore()
    store.commit(1)
    tail = tail_records(store.read_page, store.feed, 1, poll_interval=60)
    assert (await anext(tail)).seq == 1
    store.feed.close()
    async with asyncio.timeout(5):
        assert [r async for r in tail] == []
