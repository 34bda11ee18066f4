"""Reading and tailing, shared by every store: keyset pages of records, then the live feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection

from nunet.eventlog.event import EventRecord
from nunet.eventlog.feed import LiveFeed

PAGE_SIZE = 1000

# read_page(from_seq, to_seq, types, limit) -> up to `limit` records in seq order
ReadPage = Callable[[int, int | None, Collection[str] | None, int], Awaitable[list[EventRecord]]]


async def read_pages(
    read_page: ReadPage,
    from_seq: int,
    to_seq: int | None,
    types: Collection[str] | None,
    page_size: int = PAGE_SIZE,
) -> AsyncGenerator[EventRecord, None]:
    next_seq = max(from_seq, 1)
    while to_seq is None or next_seq <= to_seq:
        page = await read_page(next_seq, to_seq, types, page_size)
        for record in page:
            yield record
        if len(page) < page_size:
            return
        next_seq = page[-1].seq + 1


async def tail_records(
    read_page: ReadPage,
    feed: LiveFeed | None,
    from_seq: int,
    poll_interval: float,
) -> AsyncGenerator[EventRecord, None]:
    """History from `from_seq`, then live records.

    With a feed, the tail subscribes *before* reading history, so a record is either in the
    history read or delivered afterwards (duplicates are dropped by seq). Without a feed (a
    read-only view of a log another process writes) it polls the store every poll_interval.
    """
    next_seq = max(from_seq, 1)
    while True:
        subscription = feed.subscribe() if feed is not None else None
        try:
            async for record in read_pages(read_page, next_seq, None, None):
                yield record
                next_seq = record.seq + 1
            if subscription is None:
                await asyncio.sleep(poll_interval)
                continue
            while True:
                batch = await subscription.next_batch()
                if batch is None:
                    if subscription.closed:
                        return
                    break  # overflowed: re-read what was missed from the store
                if batch[-1].seq < next_seq:
                    continue
                if batch[0].seq > next_seq:
                    break  # cannot happen with an in-order feed; re-read rather than skip
                for record in batch:
                    if record.seq >= next_seq:
                        yield record
                        next_seq = record.seq + 1
        finally:
            if subscription is not None and feed is not None:
                feed.unsubscribe(subscription)
