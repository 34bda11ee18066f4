"""Golden event streams (events/golden/*.jsonl): records as older nunet versions wrote them.

Each line is one EventRecord with bytes in hex. `python -m tests.eventlog.golden` wrote
checkpoints.jsonl once; its v1 checkpoints are built by hand because the current class is v2.
Do not regenerate a golden file to make a test pass: a failing golden test means logs already
written can no longer be read, which is the bug.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import msgspec

from nunet.eventlog import EventRecord
from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.eventlog.events import checkpoint_message
from nunet.identity import KeyPair

GOLDEN = Path(__file__).resolve().parents[2] / "events" / "golden"
SIGNER_SEED = bytes(range(32))  # a published test key: golden files must be reproducible
_HEX_FIELDS = ("payload", "prev_hash", "hash")


def load(name: str) -> list[EventRecord]:
    records = []
    for line in (GOLDEN / name).read_text().splitlines():
        fields: dict[str, Any] = json.loads(line)
        for field in _HEX_FIELDS:
            fields[field] = bytes.fromhex(fields[field])
        records.append(EventRecord(**fields))
    return records


def dump(records: list[EventRecord]) -> str:
    lines = []
    for record in records:
        fields = msgspec.structs.asdict(record)
        for field in _HEX_FIELDS:
            fields[field] = fields[field].hex()
        lines.append(json.dumps(fields))
    return "\n".join(lines) + "\n"


def _write_checkpoints_stream() -> list[EventRecord]:
    key = KeyPair.from_seed(SIGNER_SEED)
    encode = msgspec.msgpack.encode
    t0 = 1_700_000_000_000_000_000
    records: list[EventRecord] = []

    def add(event_type: str, version: int, actor: str, fields: dict[str, Any], at: int) -> None:
        seq, prev = (records[-1].seq, records[-1].hash) if records else (0, ZERO_HASH)
        records.extend(seal([(event_type, version, actor, encode(fields))], seq, prev, t0 + at))

    add("test.noted", 1, "/dms/node", {"text": "node started", "blob": b""}, 1)
    add("test.pinged", 1, "/dms/node/peers", {"n": 1}, 2)
    add("test.pinged", 1, "/dms/node/peers", {"n": 2}, 3)
    head = records[-1]
    v1_signature = key.sign(checkpoint_message(1, head.seq, head.hash, 0))
    add(  # a v1 checkpoint: no signed_at, v1 signing domain
        "log.checkpoint",
        1,
        "",
        {"seq": head.seq, "head_hash": head.hash, "signer": key.did, "signature": v1_signature},
        4,
    )
    add("test.noted", 1, "", {"text": "ünïcode and bytes", "blob": struct.pack(">I", 7)}, 5)
    add("test.pinged", 1, "/dms/node/peers", {"n": 3}, 5)
    head = records[-1]
    signed_at = t0 + 6
    add(
        "log.checkpoint",
        2,
        "",
        {
            "seq": head.seq,
            "head_hash": head.hash,
            "signer": key.did,
            "signature": key.sign(checkpoint_message(2, head.seq, head.hash, signed_at)),
            "signed_at": signed_at,
        },
        6,
    )
    return records


if __name__ == "__main__":
    (GOLDEN / "checkpoints.jsonl").write_text(dump(_write_checkpoints_stream()))
