"""NodeSequencer, with no server: re-sends dropped, order restored, a broken chain and a checkpoint
that is not the node's refused, records authenticated by the node's checkpoints."""

from __future__ import annotations

import msgspec
import pytest

from nunet.eventlog import EventRecord, LogCheckpoint
from nunet.eventlog.chain import ZERO_HASH, record_hash, seal
from nunet.eventlog.event import EncodedEvent, EventEncoder
from nunet.eventlog.events import checkpoint_message
from nunet.identity import KeyPair
from nunet.replication import NodeSequencer, resume_after

NODE = "did:key:z6MkTest"


def chain(count: int) -> list[EventRecord]:
    events = [("test.pinged", 1, "", msgspec.msgpack.encode({"n": i})) for i in range(count)]
    return seal(events, 0, ZERO_HASH, 1_000)


def forged(record: EventRecord, payload: bytes, *, rehash: bool) -> EventRecord:
    fields = msgspec.structs.asdict(record) | {"payload": payload}
    if rehash:
        fields["hash"] = record_hash(
            record.seq,
            record.timestamp,
            record.type,
            record.version,
            record.actor,
            payload,
            record.prev_hash,
        )
    return EventRecord(**fields)


def feed(sequencer: NodeSequencer, records: list[EventRecord]) -> tuple[list[int], list[str]]:
    seqs: list[int] = []
    kinds: list[str] = []
    for record in records:
        out = sequencer.offer(record)
        seqs += [r.seq for r in out.records]
        kinds += [p.kind for p in out.problems]
    return seqs, kinds


def test_in_order_records_are_released_at_once() -> None:
    assert feed(NodeSequencer(NODE), chain(5)) == ([1, 2, 3, 4, 5], [])


def test_resent_records_are_released_once() -> None:
    records = chain(5)
    assert feed(NodeSequencer(NODE), records[:3] + records[1:]) == ([1, 2, 3, 4, 5], [])


def test_a_record_arriving_late_releases_the_ones_held_behind_it() -> None:
    r = chain(6)
    sequencer = NodeSequencer(NODE)
    assert feed(sequencer, [r[0], r[2], r[3], r[4]]) == ([1], [])
    assert sequencer.held == 3
    assert sequencer.pending_gap() is not None
    assert feed(sequencer, [r[1], r[3], r[5]]) == ([2, 3, 4, 5, 6], [])
    assert sequencer.held == 0
    assert sequencer.pending_gap() is None


def test_an_edited_record_is_refused_and_the_genuine_one_still_accepted() -> None:
    r = chain(4)
    sequencer = NodeSequencer(NODE)
    seqs, kinds = feed(sequencer, [r[0], forged(r[1], b"\x01", rehash=False), r[2], r[1], r[3]])
    assert (seqs, kinds) == ([1, 2, 3, 4], ["tampered"])


def test_a_rehashed_forgery_breaks_the_chain_at_the_next_record() -> None:
    r = chain(3)
    fake = forged(r[1], b"\x01", rehash=True)
    sequencer = NodeSequencer(NODE)
    seqs, kinds = feed(sequencer, [r[0], fake, r[2]])
    assert (seqs, kinds) == ([1, 2], ["broken-chain"])  # seq 3 does not link to the forgery
    # the genuine seq 2 now conflicts with the released forgery; the chain stays stuck
    assert feed(sequencer, [r[1]]) == ([], ["conflict"])


def test_a_record_that_does_not_link_is_refused_until_one_that_does_arrives() -> None:
    r = chain(3)
    other = seal(  # same seqs, another chain
        [("x", 1, "", b"")] * 3, 0, ZERO_HASH, 2_000
    )
    sequencer = NodeSequencer(NODE)
    assert feed(sequencer, [r[0], other[1], r[1], r[2]]) == ([1, 2, 3], ["broken-chain"])


def test_a_gap_that_never_fills_is_given_up_after_the_hold_limit() -> None:
    r = chain(10)
    sequencer = NodeSequencer(NODE, hold_limit=3)
    seqs, kinds = feed(sequencer, [r[0], r[3], r[4], r[5]])
    assert seqs == [1]
    seqs, kinds = feed(sequencer, [r[6]])  # a fourth held record: the gap 2..3 is given up
    assert (seqs, kinds) == ([4, 5, 6, 7], ["gap"])
    assert feed(sequencer, [r[1], r[7]]) == ([8], [])  # late: before next_seq, dropped


def test_reading_from_the_middle_trusts_the_first_record_as_anchor() -> None:
    r = chain(6)
    sequencer = NodeSequencer(NODE, from_seq=4)
    assert feed(sequencer, r) == ([4, 5, 6], [])
    checked = NodeSequencer(NODE, from_seq=4, prev_hash=b"\x00" * 32)
    assert feed(checked, r[3:]) == ([], ["broken-chain"])


def test_resume_point_trusts_a_cursor_at_or_below_the_stream_and_the_window_otherwise() -> None:
    assert resume_after(None, None, 10) == 0
    assert resume_after(50, None, 10) == 50  # messages aged out: do not resend history
    assert resume_after(None, 100, 10) == 90  # lost cursor: only the last window again
    assert resume_after(95, 100, 10) == 95
    assert resume_after(3, 100, 10) == 90  # stale cursor: never more than the window again
    assert resume_after(120, 100, 10) == 90  # stream lost its tail: from the safe prefix
    assert resume_after(None, 4, 10) == 0


# --- checkpoints: who wrote the log ---------------------------------------------------------

KEY = KeyPair.generate()  # the node's key; its DID names the node
OTHER = KeyPair.generate()


def checkpoint_of(
    signer: KeyPair, seq: int, head_hash: bytes, *, named: str | None = None
) -> EncodedEvent:
    """An encoded LogCheckpoint signed by `signer` (naming `named` as signer, by default itself)."""
    signed_at = 5_000
    message = checkpoint_message(LogCheckpoint.VERSION, seq, head_hash, signed_at)
    event = LogCheckpoint(
        seq=seq,
        head_hash=head_hash,
        signer=named or signer.did,
        signature=signer.sign(message),
        signed_at=signed_at,
    )
    return EventEncoder().encode(event, "")


def checkpointed(count: int, signer: KeyPair = KEY, **claim: object) -> list[EventRecord]:
    """`count` records, then a checkpoint vouching for the last of them, then two more."""
    records = chain(count)
    head = records[-1]
    vouched_seq = int(claim.get("seq", head.seq))  # type: ignore[call-overload]
    vouched_hash = claim.get("hash", head.hash)
    assert isinstance(vouched_hash, bytes)
    named = claim.get("named")
    assert named is None or isinstance(named, str)
    sealed = seal(
        [checkpoint_of(signer, vouched_seq, vouched_hash, named=named)],
        head.seq,
        head.hash,
        2_000,
    )
    after = seal(
        [("test.pinged", 1, "", msgspec.msgpack.encode({"n": -i})) for i in (1, 2)],
        sealed[-1].seq,
        sealed[-1].hash,
        3_000,
    )
    return records + sealed + after


def test_a_checkpoint_signed_by_the_node_authenticates_the_records_before_it() -> None:
    records = checkpointed(5)
    sequencer = NodeSequencer(KEY.did)
    assert feed(sequencer, records[:5]) == ([1, 2, 3, 4, 5], [])
    assert sequencer.authenticated == 0  # hash-chained, not yet shown to be the node's
    assert feed(sequencer, records[5:]) == ([6, 7, 8], [])
    assert sequencer.authenticated == 5  # 6 (the checkpoint) and later: chained only


@pytest.mark.parametrize(
    ("signer", "named"),
    [(OTHER, None), (OTHER, KEY.did)],
    ids=["names-its-own-key", "claims-the-node-key"],
)
def test_a_checkpoint_signed_by_another_key_is_refused(signer: KeyPair, named: str | None) -> None:
    forged = checkpointed(5, signer, named=named)
    genuine = checkpointed(5)
    sequencer = NodeSequencer(KEY.did)
    seqs, kinds = feed(sequencer, forged[:7])
    assert (seqs, kinds) == ([1, 2, 3, 4, 5], ["bad-checkpoint"])  # 7 waits for a 6
    assert sequencer.authenticated == 0
    # the genuine checkpoint, sent after the forgery, is still accepted (the 7 that followed
    # the forgery does not link to it)
    assert feed(sequencer, genuine[5:]) == ([6, 7, 8], ["broken-chain"])
    assert sequencer.authenticated == 5


def test_a_record_tampered_before_a_checkpoint_is_caught_by_it() -> None:
    """A forger rewrites record 5 (re-hashed, so it links) and re-links the checkpoint after
    it: the checkpoint's signature still vouches for the genuine record 5."""
    genuine = checkpointed(5)
    fake5 = forged(genuine[4], b"\x01", rehash=True)
    relinked = seal(
        [(genuine[5].type, genuine[5].version, genuine[5].actor, genuine[5].payload)],
        5,
        fake5.hash,
        genuine[5].timestamp,
    )[0]
    sequencer = NodeSequencer(KEY.did)
    seqs, kinds = feed(sequencer, [*genuine[:4], fake5, relinked])
    assert (seqs, kinds) == ([1, 2, 3, 4, 5], ["bad-checkpoint"])
    assert sequencer.authenticated == 0  # the forged 5 was delivered, never authenticated


def test_a_checkpoint_vouching_for_a_hash_it_cannot_have_signed_is_refused() -> None:
    records = checkpointed(5, hash=b"\x07" * 32)  # signed by the node, but not of this chain
    sequencer = NodeSequencer(KEY.did)
    assert feed(sequencer, records) == ([1, 2, 3, 4, 5], ["bad-checkpoint"])
    assert sequencer.authenticated == 0
    assert sequencer.held == 2  # 7 and 8 wait for a 6 the node did sign


def test_a_checkpoint_of_a_record_before_the_read_is_checked_against_prev_hash() -> None:
    records = checkpointed(5)
    continued = NodeSequencer(KEY.did, from_seq=6, prev_hash=records[4].hash)
    assert feed(continued, records[5:]) == ([6, 7, 8], [])
    assert continued.authenticated == 5
    anchored = NodeSequencer(KEY.did, from_seq=6)  # nothing to check the claim against
    assert feed(anchored, records[5:]) == ([6, 7, 8], [])
    assert anchored.authenticated == 0
