"""OutboxLedger, with no server: the acknowledged prefix, holes, and re-sends that keep their
boundaries."""

from __future__ import annotations

from nunet.replication.ledger import OutboxLedger
from nunet.replication.stream import Span


def test_acknowledgements_in_order_move_the_position() -> None:
    ledger = OutboxLedger()
    ledger.sent(Span(1, 3))
    ledger.sent(Span(4, 4))
    ledger.acknowledged(Span(1, 3))
    assert ledger.position == 3
    ledger.acknowledged(Span(4, 4))
    assert ledger.position == 4
    assert ledger.unacknowledged == []


def test_after_a_stall_unacknowledged_messages_are_sent_again_with_their_boundaries() -> None:
    ledger = OutboxLedger()
    for span in (Span(1, 3), Span(4, 9), Span(10, 10), Span(11, 20)):
        ledger.sent(span)
    ledger.acknowledged(Span(1, 3))
    ledger.reset(3)  # the stream holds nothing more
    assert ledger.unacknowledged == [Span(4, 9), Span(10, 10), Span(11, 20)]
    assert ledger.resend_at(4) == Span(4, 9)
    assert ledger.resend_at(5) is None
    assert ledger.next_reserved(21) is None
    assert ledger.next_reserved(4) == 10  # a new message starting at 4 would have to stop at 9


def test_records_found_stored_beyond_a_hole_are_skipped_and_fill_in_once_it_closes() -> None:
    ledger = OutboxLedger()
    ledger.sent(Span(4, 9))
    ledger.sent(Span(10, 12))
    ledger.sent(Span(13, 13))
    # the stream holds 1..3 and 10..12 (4..9 lost); 13 was stored too but its ack lost
    ledger.reset(3, [Span(1, 3), Span(10, 12), Span(13, 13), Span(30, 31)])
    assert ledger.position == 3
    assert ledger.unacknowledged == [Span(4, 9)]  # the stored ones are not sent again
    assert [seq for seq in range(1, 33) if ledger.is_stored(seq)] == [
        1, 2, 3, 10, 11, 12, 13, 30, 31
    ]  # fmt: skip
    assert ledger.next_reserved(14) == 30
    ledger.acknowledged(Span(4, 9))
    assert ledger.position == 13
    ledger.acknowledged(Span(14, 29))
    assert ledger.position == 31


def test_a_reset_below_an_unacknowledged_message_forgets_its_boundaries() -> None:
    ledger = OutboxLedger()
    ledger.sent(Span(1, 10))
    ledger.sent(Span(11, 20))
    ledger.reset(15)  # the prefix rule vouches for 1..15: 11..20 cannot be sent as it was
    assert ledger.unacknowledged == []
    ledger.sent(Span(21, 25))
    ledger.reset(15, [Span(21, 22)])  # stored in part: its boundaries cannot be kept either
    assert ledger.unacknowledged == []
    assert ledger.is_stored(22)
    assert not ledger.is_stored(23)
