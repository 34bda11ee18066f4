"""The hash chain, as pure functions: how a record's hash is computed and how a batch is sealed.

hash = SHA-256(pack(">QqIIII", seq, timestamp, version, len(type), len(actor), len(payload))
               || type || actor || payload || prev_hash)
with type and actor in UTF-8, and prev_hash = 32 zero bytes for seq 1. Every field is either
fixed-size or length-prefixed, so two different records never share a canonical form.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from hashlib import sha256

from nunet.eventlog.event import EncodedEvent, EventRecord

ZERO_HASH = bytes(32)
HASH_SIZE = 32
_HEADER = struct.Struct(">QqIIII")
_FIELD_TYPES = (
    ("seq", int),
    ("timestamp", int),
    ("type", str),
    ("version", int),
    ("actor", str),
    ("payload", bytes),
    ("prev_hash", bytes),
    ("hash", bytes),
)


def record_hash(
    seq: int,
    timestamp: int,
    type: str,
    version: int,
    actor: str,
    payload: bytes,
    prev_hash: bytes,
) -> bytes:
    """The hash a record with these fields must carry."""
    t = type.encode()
    a = actor.encode()
    header = _HEADER.pack(seq, timestamp, version, len(t), len(a), len(payload))
    return sha256(b"".join((header, t, a, payload, prev_hash))).digest()


def expected_hash(record: EventRecord) -> bytes:
    return record_hash(
        record.seq,
        record.timestamp,
        record.type,
        record.version,
        record.actor,
        record.payload,
        record.prev_hash,
    )


def malformed_field(record: EventRecord) -> str | None:
    """Why a record read back from a store cannot be a well-formed record, or None."""
    for name, kind in _FIELD_TYPES:
        value = getattr(record, name)
        if type(value) is not kind:
            return f"field {name!r} holds {type(value).__name__}, not {kind.__name__}"
    if not 0 <= record.seq < 2**64:
        return f"seq {record.seq} is out of range"
    if not -(2**63) <= record.timestamp < 2**63 or not 0 < record.version < 2**32:
        return "timestamp or version is out of range"
    if len(record.prev_hash) != HASH_SIZE or len(record.hash) != HASH_SIZE:
        return "a hash field is not 32 bytes long"
    return None


def hash_matches(record: EventRecord) -> bool:
    """Whether a record is well-formed and its stored hash covers its content."""
    return malformed_field(record) is None and expected_hash(record) == record.hash


def seal(
    events: Iterable[EncodedEvent], head_seq: int, head_hash: bytes, timestamp: int
) -> list[EventRecord]:
    """Chain `events` after (head_seq, head_hash), all stamped with `timestamp`.

    This is the writers' hot path: one header pack, one join and one SHA-256 per record.
    """
    pack = _HEADER.pack
    join = b"".join
    records = []
    seq = head_seq
    prev = head_hash
    for event_type, version, actor, payload in events:
        seq += 1
        t = event_type.encode()
        a = actor.encode()
        digest = sha256(
            join((pack(seq, timestamp, version, len(t), len(a), len(payload)), t, a, payload, prev))
        ).digest()
        records.append(
            EventRecord(seq, timestamp, event_type, version, actor, payload, prev, digest)
        )
        prev = digest
    return records
