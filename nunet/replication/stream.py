"""The swarm log stream on the hubs: its configuration, subjects, message ids and wire format.

Every node's records go to `nunet.log.<node did>`, one message per record: the msgpack of the
EventRecord, with `Nats-Msg-Id: <did>:<seq>` so the stream drops re-sends within its duplicate
window. A DID holds no `.`, `*`, `>` or whitespace, so it is a single subject token.
"""

from __future__ import annotations

import re
from datetime import timedelta

import msgspec
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from nunet.eventlog import EventRecord
from nunet.replication.errors import MalformedLogMessage, ReplicationError

STREAM = "NUNET_LOG"
SUBJECT_PREFIX = "nunet.log."
ALL_SUBJECTS = SUBJECT_PREFIX + ">"
MSG_ID = "Nats-Msg-Id"
DUPLICATE_WINDOW = timedelta(minutes=2)

_TOKEN = re.compile(r"[^.*>\s]+")
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(EventRecord).decode


def node_subject(node_did: str) -> str:
    """The subject a node's records are published on."""
    if not _TOKEN.fullmatch(node_did):
        raise ReplicationError(
            f"{node_did!r} cannot name a swarm log subject: a node DID has no '.', '*', '>' "
            "or whitespace"
        )
    return SUBJECT_PREFIX + node_did


def node_of(subject: str) -> str:
    """The node DID a swarm log subject belongs to."""
    if not subject.startswith(SUBJECT_PREFIX):
        raise MalformedLogMessage(f"{subject!r} is not a swarm log subject ({ALL_SUBJECTS})")
    return subject[len(SUBJECT_PREFIX) :]


def msg_id(node_did: str, seq: int) -> str:
    return f"{node_did}:{seq}"


def seq_of_msg_id(value: str) -> int:
    """The record seq in a `<did>:<seq>` message id."""
    _, _, seq = value.rpartition(":")
    try:
        return int(seq)
    except ValueError:
        raise MalformedLogMessage(f"message id {value!r} does not end in ':<seq>'") from None


def encode_record(record: EventRecord) -> bytes:
    return _encode(record)


def decode_record(subject: str, data: bytes) -> EventRecord:
    try:
        return _decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedLogMessage(f"a message on {subject} is not an EventRecord: {exc}") from None


async def ensure_swarm_stream(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    max_age: timedelta | None = None,
    max_bytes: int | None = None,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
) -> api.StreamInfo:
    """Create the swarm log stream, or bring an existing one to this configuration (idempotent).

    `js` must address the hubs' JetStream domain (`nc.jetstream(domain=...)`).
    """
    config = api.StreamConfig(
        name=STREAM,
        description="Every node's event log records, one subject per node",
        subjects=[ALL_SUBJECTS],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age.total_seconds() if max_age is not None else None,
        max_bytes=max_bytes,
        duplicate_window=duplicate_window.total_seconds(),
        allow_direct=True,
    )
    try:
        try:
            await js.stream_info(STREAM)
        except NotFoundError:
            return await js.add_stream(config)
        return await js.update_stream(config)
    except APIError as exc:
        raise ReplicationError(f"cannot create or update stream {STREAM}: {exc}") from None


async def last_replicated_seq(js: JetStreamContext, node_did: str) -> int | None:
    """The record seq of the last message on the node's subject, or None when it has none.

    "Last" is in stream order, which is not always the highest seq (a re-sent record lands
    after later ones); see `cursor.resume_after` for how that is used safely.
    """
    try:
        message = await js.get_last_msg(STREAM, node_subject(node_did))
    except NotFoundError:
        return None
    headers = message.headers or {}
    if MSG_ID in headers:
        return seq_of_msg_id(headers[MSG_ID])
    if message.data is None:
        raise MalformedLogMessage(f"the last message on {node_subject(node_did)} is empty")
    return decode_record(message.subject or "", message.data).seq
