"""Helpers to look at the swarm stream directly, below the reader: what it stores, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext

from nunet.eventlog import EventRecord
from nunet.replication.stream import (
    MSG_ID,
    STREAM,
    Span,
    batch_headers,
    decode_message,
    encode_batch,
    encode_record,
    node_subject,
)


@dataclass(frozen=True)
class StoredLogMessage:
    """One message of the stream as stored: its id, its raw size and the records it carries."""

    msg_id: str | None
    size: int
    records: list[EventRecord]


async def stored(js: JetStreamContext, node: str) -> list[StoredLogMessage]:
    """Every message on the node's subject, in stream order."""
    info = await js.stream_info(STREAM, subjects_filter=node_subject(node))
    count = (info.state.subjects or {}).get(node_subject(node), 0)
    if count == 0:
        return []
    subscription = await js.subscribe(node_subject(node), stream=STREAM, ordered_consumer=True)
    try:
        found = []
        for _ in range(count):
            message = await subscription.next_msg(timeout=10)
            decoded = decode_message(message.subject, message.headers, message.data)
            found.append(
                StoredLogMessage(
                    (message.headers or {}).get(MSG_ID), len(message.data), decoded.records
                )
            )
        return found
    finally:
        await subscription.unsubscribe()


async def stored_records(js: JetStreamContext, node: str) -> list[EventRecord]:
    """Every record on the node's subject, in stream order, duplicates included."""
    return [record for message in await stored(js, node) for record in message.records]


async def publish_raw(
    js: JetStreamContext, node: str, record: EventRecord, *, msg_id: str | None = None
) -> None:
    """Put a record on the node's subject as a format-1 message, as-is (a forger, an outbox of
    an older nunet, a re-send)."""
    headers = {MSG_ID: msg_id} if msg_id is not None else None
    await js.publish(node_subject(node), encode_record(record), headers=headers)


async def publish_batch(js: JetStreamContext, node: str, records: Sequence[EventRecord]) -> None:
    """Put records on the node's subject as one format-2 message, as an outbox does."""
    span = Span(records[0].seq, records[-1].seq)
    await js.publish(
        node_subject(node),
        encode_batch([encode_record(record) for record in records]),
        headers=batch_headers(node, span),
    )


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (checked every 10 ms), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition did not hold in time")
        await asyncio.sleep(0.01)
