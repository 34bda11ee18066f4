"""The failure book: counts per peer, bounded, forgetting the least recently recorded first."""

from __future__ import annotations

import pytest

from nunet.matching import FailureBook


def test_failures_are_counted_per_peer() -> None:
    book = FailureBook()
    assert book.record("a") == 1
    assert book.record("a") == 2
    assert book.record("b") == 1
    assert (book.count("a"), book.count("b"), book.count("c")) == (2, 1, 0)


def test_past_its_capacity_the_peer_recorded_longest_ago_is_forgotten() -> None:
    book = FailureBook(capacity=2)
    book.record("a")
    book.record("b")
    book.record("a")  # a is now the most recent
    book.record("c")
    assert len(book) == 2
    assert (book.count("a"), book.count("b"), book.count("c")) == (2, 0, 1)


def test_a_book_needs_room_for_one_peer() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FailureBook(capacity=0)
