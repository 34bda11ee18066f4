"""Who wrote a replicated log: a node's signed checkpoints checked against its DID (a did:key,
so its public key), and the head each one vouches for."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from nunet.eventlog import Catalogue, EventLogError, EventRecord, LogCheckpoint
from nunet.eventlog.events import UPCASTERS, checkpoint_message
from nunet.identity import IdentityError, verify_signature
from nunet.replication.errors import UntrustedCheckpoint

_CHECKPOINTS = Catalogue(LogCheckpoint, upcasters=UPCASTERS)


@dataclass(frozen=True)
class VouchedHead:
    """A checkpoint's signed claim: the node's record `seq` has hash `hash`."""

    seq: int
    hash: bytes


def is_checkpoint(record: EventRecord) -> bool:
    return record.type == LogCheckpoint.TYPE


def vouched_head(node_did: str, record: EventRecord) -> VouchedHead:
    """The head that checkpoint `record` of node `node_did` vouches for, once it is shown to be
    signed by that node's key; UntrustedCheckpoint saying why not."""
    try:
        checkpoint = _CHECKPOINTS.decode(record)
    except (EventLogError, msgspec.MsgspecError) as exc:
        raise UntrustedCheckpoint(f"the checkpoint cannot be decoded: {exc}") from None
    assert isinstance(checkpoint, LogCheckpoint)
    if checkpoint.signer != node_did:
        raise UntrustedCheckpoint(
            f"the checkpoint names {checkpoint.signer} as signer, not the node {node_did}"
        )
    message = checkpoint_message(
        record.version, checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at
    )
    try:
        verify_signature(node_did, message, checkpoint.signature)
    except IdentityError as exc:
        raise UntrustedCheckpoint(
            f"the checkpoint is not signed by the node's key: {exc}"
        ) from None
    if not 1 <= checkpoint.seq < record.seq:
        raise UntrustedCheckpoint(
            f"the checkpoint vouches for seq {checkpoint.seq}, not for a record before it"
        )
    return VouchedHead(checkpoint.seq, checkpoint.head_hash)
