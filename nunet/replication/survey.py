"""What the stream already holds of a node's records beyond a seq, so that an outbox that lost
track (a restart, a stall longer than the duplicate window) does not store a record twice.

A binary search over stream seqs (direct gets of the node's next message) finds where the node's
messages pass the seq; a headers-only consumer then reads their ids from there to the end.
"""

from __future__ import annotations

import contextlib

import nats.errors
from nats.js import JetStreamContext, api

from nunet.replication.errors import MalformedLogMessage
from nunet.replication.stream import (
    MSG_ID,
    STREAM,
    Span,
    StoredMessage,
    next_message,
    node_subject,
    span_of_msg_id,
)


async def stored_spans(
    js: JetStreamContext,
    node_did: str,
    *,
    beyond: int,
    last: StoredMessage,
    timeout: float,
) -> list[Span]:
    """The record spans of the node's messages that hold a seq > `beyond`, up to `last` (the
    node's last message now), in stream order.

    The node's messages are in seq order except re-sent ones, which land after later ones but
    never more than the outbox's in-flight bound below the highest seq sent before; a caller that
    passes `beyond` that bound below the seq it cares about finds every message holding it.
    """
    if last.span.last <= beyond:
        return []
    start = await _first_beyond(js, node_did, beyond, last)
    subscription = await js.subscribe(
        node_subject(node_did),
        stream=STREAM,
        ordered_consumer=True,
        headers_only=True,
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        config=api.ConsumerConfig(opt_start_seq=start),
    )
    spans: list[Span] = []
    try:
        while True:
            message = await subscription.next_msg(timeout=timeout)
            claimed = (message.headers or {}).get(MSG_ID)
            if claimed is not None:
                try:
                    span = span_of_msg_id(claimed)
                except MalformedLogMessage:
                    pass  # not the outbox's: whatever it holds is sent again
                else:
                    if span.last > beyond:
                        spans.append(span)
            if message.metadata.sequence.stream >= last.stream_seq:
                return spans
    finally:
        # on failure the connection is going, and the ephemeral consumer with it
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


async def _first_beyond(
    js: JetStreamContext, node_did: str, beyond: int, last: StoredMessage
) -> int:
    """A stream seq from which the node's messages reach past `beyond`: the message just before
    it ends at or below `beyond`. O(log stream length) gets."""
    first = await next_message(js, node_did, 1)
    if first.span.last > beyond:
        return first.stream_seq
    low, high = first.stream_seq, last.stream_seq  # low ends <= beyond, high > beyond
    while high - low > 1:
        middle = (low + high) // 2
        found = await next_message(js, node_did, middle)
        if found.span.last <= beyond:
            low = found.stream_seq
        else:
            high = middle
    return low + 1
