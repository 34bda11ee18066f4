"""NodeSequencer, with no server: re-sends dropped, order restored, a broken chain refused."""

from __future__ import annotations

import msgspec

from nunet.eventlog import EventRecord
from nunet.eventlog.chain import ZERO_HASH, record_hash, seal
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
