"""The swarm log stream on the hubs: its configuration, subjects, message ids and wire format.

Every node's records go to `nunet.log.<node did>`. Format 2 (header `Nunet-Log-Format: 2`): a
message holds a run of consecutive records, the msgpack array of their EventRecords, with
`Nats-Msg-Id: <did>:<first>-<last>`. Format 1 (no format header, still read): one record, the
msgpack of its EventRecord, with `Nats-Msg-Id: <did>:<seq>`. The id lets the stream drop a
re-sent message within its duplicate window. A DID holds no `.`, `*`, `>` or whitespace, so it
is a single subject token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
FORMAT = "Nunet-Log-Format"
BATCH_FORMAT = "2"  # the format this nunet writes; a message without the header is format 1
DUPLICATE_WINDOW = timedelta(minutes=2)
# Room left under the connection's max_payload for the headers and the array's framing.
MESSAGE_OVERHEAD = 1024

_TOKEN = re.compile(r"[^.*>\s]+")
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(EventRecord).decode
_decode_batch = msgspec.msgpack.Decoder(list[EventRecord]).decode


@dataclass(frozen=True, order=True)
class Span:
    """The consecutive record seqs first..last that one message carries."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last:
            raise ValueError(f"a span of record seqs needs 1 <= first <= last, not {self}")

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.first <= seq <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class LogMessage:
    """One message of the swarm log, decoded: the node it is from and its records, in order."""

    node: str
    records: list[EventRecord]


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
    """The message id of a format-1 message (one record)."""
    return f"{node_did}:{seq}"


def batch_msg_id(node_did: str, span: Span) -> str:
    """The message id of a format-2 message carrying records `span`."""
    return f"{node_did}:{span.first}-{span.last}"


def span_of_msg_id(value: str) -> Span:
    """The record seqs a message id names: `<did>:<first>-<last>` or (format 1) `<did>:<seq>`."""
    _, _, seqs = value.rpartition(":")
    first, dash, last = seqs.partition("-")
    try:
        return Span(int(first), int(last) if dash else int(first))
    except ValueError:
        raise MalformedLogMessage(
            f"message id {value!r} does not end in ':<first>-<last>' or ':<seq>'"
        ) from None


def seq_of_msg_id(value: str) -> int:
    """The last record seq a message id names."""
    return span_of_msg_id(value).last


def encode_record(record: EventRecord) -> bytes:
    """A record alone: a format-1 message body, and an element of a format-2 one."""
    return _encode(record)


def encode_batch(encoded_records: Sequence[bytes]) -> bytes:
    """A format-2 message body from records already encoded one by one (`encode_record`)."""
    return _encode([msgspec.Raw(data) for data in encoded_records])


def batch_headers(node_did: str, span: Span) -> dict[str, str]:
    return {MSG_ID: batch_msg_id(node_did, span), FORMAT: BATCH_FORMAT}


def decode_record(subject: str, data: bytes) -> EventRecord:
    """A format-1 message body."""
    try:
        return _decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedLogMessage(f"a message on {subject} is not an EventRecord: {exc}") from None


def decode_message(subject: str, headers: Mapping[str, str] | None, data: bytes) -> LogMessage:
    """A message of either format, checked: its records consecutive and named by its id."""
    node = node_of(subject)
    headers = headers or {}
    version = headers.get(FORMAT)
    if version is None:
        records = [decode_record(subject, data)]
    elif version == BATCH_FORMAT:
        try:
            records = _decode_batch(data)
        except msgspec.DecodeError as exc:
            raise MalformedLogMessage(
                f"a format-2 message on {subject} is not an array of EventRecords: {exc}"
            ) from None
    else:
        raise MalformedLogMessage(
            f"a message on {subject} is in log format {version!r}, which this nunet does not "
            f"read (it reads 1 and {BATCH_FORMAT}); upgrade nunet"
        )
    if not records:
        raise MalformedLogMessage(f"a message on {subject} carries no record")
    first = records[0].seq
    if [r.seq for r in records] != list(range(first, first + len(records))):
        raise MalformedLogMessage(f"a message on {subject} carries records that do not follow")
    claimed = headers.get(MSG_ID)
    if claimed is not None:
        span = span_of_msg_id(claimed)
        if (span.first, span.last) != (first, records[-1].seq):
            raise MalformedLogMessage(
                f"message id {claimed!r} does not name the records it carries "
                f"({first}-{records[-1].seq})"
            )
    return LogMessage(node, records)


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
    """The last record seq of the last message on the node's subject, or None when it has none.

    "Last" is in stream order, which is not always the highest seq (a re-sent record lands
    after later ones); see `cursor.resume_after` for how that is used safely.
    """
    last = await last_message(js, node_did)
    return last.span.last if last is not None else None


@dataclass(frozen=True)
class StoredMessage:
    """Where a message of a node sits in the stream (`stream_seq`) and which records it holds."""

    stream_seq: int
    span: Span


async def last_message(js: JetStreamContext, node_did: str) -> StoredMessage | None:
    """The last message on the node's subject, in stream order; None when it has none."""
    try:
        message = await js.get_last_msg(STREAM, node_subject(node_did))
    except NotFoundError:
        return None
    return stored_message(message)


async def next_message(js: JetStreamContext, node_did: str, from_stream_seq: int) -> StoredMessage:
    """The node's first message at or after stream seq `from_stream_seq` (NotFoundError: none)."""
    message = await js.get_msg(
        STREAM, seq=from_stream_seq, subject=node_subject(node_did), next=True
    )
    return stored_message(message)


def stored_message(message: api.RawStreamMsg) -> StoredMessage:
    headers = message.headers or {}
    subject = message.subject or ""
    if MSG_ID in headers:
        span = span_of_msg_id(headers[MSG_ID])
    elif message.data:
        records = decode_message(subject, headers, message.data).records
        span = Span(records[0].seq, records[-1].seq)
    else:
        raise MalformedLogMessage(f"message {message.seq} on {subject} is empty")
    return StoredMessage(message.seq or 0, span)
