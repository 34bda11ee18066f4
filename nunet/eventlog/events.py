"""The events the log itself writes."""

from __future__ import annotations

import struct
from typing import Any

from nunet.eventlog.catalogue import Upcaster
from nunet.eventlog.event import Event

_V1_DOMAIN = b"nunet/log-checkpoint/v1\x00"
_V2_DOMAIN = b"nunet/log-checkpoint/v2\x00"


class LogCheckpoint(Event, frozen=True, kw_only=True):
    """The node key's signature over the log's head: record `seq` has hash `head_hash`.

    Appended periodically by the Checkpointer; verify_log checks every one. v2 added
    `signed_at` (ns since the epoch), which is signed too, so a witness can tell how fresh a
    checkpoint is; upcast v1 checkpoints carry signed_at = 0 ("not recorded").
    """

    TYPE = "log.checkpoint"
    VERSION = 2

    seq: int
    head_hash: bytes
    signer: str  # DID of the key that signed
    signature: bytes
    signed_at: int = 0


def checkpoint_message(version: int, seq: int, head_hash: bytes, signed_at: int) -> bytes:
    """The bytes a checkpoint of record-version `version` signs."""
    if version == 1:
        return _V1_DOMAIN + struct.pack(">Q", seq) + head_hash
    return _V2_DOMAIN + struct.pack(">Qq", seq, signed_at) + head_hash


def _checkpoint_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "signed_at": 0}


EVENTS: tuple[type[Event], ...] = (LogCheckpoint,)
UPCASTERS: tuple[Upcaster, ...] = (Upcaster(LogCheckpoint.TYPE, 1, _checkpoint_v1_to_v2),)
