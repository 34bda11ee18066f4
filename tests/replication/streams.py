"""Helpers to look at the swarm stream directly, below the reader: what it stores, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nats.js import JetStreamContext

from nunet.eventlog import EventRecord
from nunet.replication.stream import MSG_ID, STREAM, decode_record, encode_record, node_subject


async def stored(js: JetStreamContext, node: str) -> list[tuple[str | None, EventRecord]]:
    """(message id, record) of every message on the node's subject, in stream order."""
    info = await js.stream_info(STREAM, subjects_filter=node_subject(node))
    count = (info.state.subjects or {}).get(node_subject(node), 0)
    if count == 0:
        return []
    subscription = await js.subscribe(node_subject(node), stream=STREAM, ordered_consumer=True)
    try:
        found = []
        for _ in range(count):
            message = await subscription.next_msg(timeout=10)
            found.append(
                ((message.headers or {}).get(MSG_ID), decode_record(message.subject, message.data))
            )
        return found
    finally:
        await subscription.unsubscribe()


async def publish_raw(
    js: JetStreamContext, node: str, record: EventRecord, *, msg_id: str | None = None
) -> None:
    """Put a record on the node's subject as-is (a forger, a buggy outbox, a re-send)."""
    headers = {MSG_ID: msg_id} if msg_id is not None else None
    await js.publish(node_subject(node), encode_record(record), headers=headers)


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (checked every 10 ms), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition did not hold in time")
        await asyncio.sleep(0.01)
