"""What the stream holds of one node's records, as its outbox knows it. Pure (no I/O).

Three things: the acknowledged prefix (`position`), the messages sent and not acknowledged
(whose boundaries a re-send must repeat, so the stream's duplicate window can drop it), and
records beyond a hole that the stream was found to hold already (never sent again).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from nunet.replication.stream import Span


class OutboxLedger:
    """The outbox's book of acknowledged, stored and in-flight record spans."""

    def __init__(self, position: int = 0) -> None:
        self.position = position  # every seq up to it is in the stream
        self._stored: list[Span] = []  # beyond position + 1, disjoint, sorted
        self._unacknowledged: dict[int, Span] = {}  # by first seq

    @property
    def unacknowledged(self) -> list[Span]:
        """Messages sent and not acknowledged, in seq order."""
        return sorted(self._unacknowledged.values())

    @property
    def stored(self) -> list[Span]:
        """Records known to be in the stream beyond a hole after `position`."""
        return list(self._stored)

    def reset(self, position: int, stored: Iterable[Span] = ()) -> None:
        """Reconciled with the stream: every seq <= `position` is in it, and so is each of `stored`.

        In-flight messages wholly after `position` and not found stored are remembered, so that
        the next run sends them again exactly as they were.
        """
        self.position = position
        clipped = [Span(max(s.first, position + 1), s.last) for s in stored if s.last > position]
        self._stored = _merged(clipped)
        self._unacknowledged = {
            span.first: span
            for span in self._unacknowledged.values()
            if span.first > position and not self._overlaps_stored(span)
        }
        self._advance()

    def sent(self, span: Span) -> None:
        self._unacknowledged[span.first] = span

    def acknowledged(self, span: Span) -> None:
        """The stream stored `span`; `position` moves on if it (and what follows) is contiguous."""
        self._unacknowledged.pop(span.first, None)
        if span.first <= self.position + 1:
            self.position = max(self.position, span.last)
        else:  # after a hole: only possible when a re-send fills it later
            self._stored = _merged([*self._stored, span])
        self._advance()

    def is_stored(self, seq: int) -> bool:
        if seq <= self.position:
            return True
        index = bisect.bisect_right(self._stored, seq, key=lambda span: span.first) - 1
        return index >= 0 and seq in self._stored[index]

    def resend_at(self, seq: int) -> Span | None:
        """The unacknowledged message that starts at `seq`, to be sent again as it was."""
        return self._unacknowledged.get(seq)

    def next_reserved(self, seq: int) -> int | None:
        """The first seq after `seq` that begins a stored or unacknowledged span (a new message
        starting at `seq` must end before it), or None."""
        index = bisect.bisect_right(self._stored, seq, key=lambda span: span.first)
        candidates = [first for first in self._unacknowledged if first > seq]
        if index < len(self._stored):
            candidates.append(self._stored[index].first)
        return min(candidates, default=None)

    def _advance(self) -> None:
        while self._stored and self._stored[0].first <= self.position + 1:
            self.position = max(self.position, self._stored.pop(0).last)

    def _overlaps_stored(self, span: Span) -> bool:
        return any(s.first <= span.last and span.first <= s.last for s in self._stored)


def _merged(spans: list[Span]) -> list[Span]:
    """Disjoint, sorted spans covering the same seqs."""
    merged: list[Span] = []
    for span in sorted(spans):
        if merged and span.first <= merged[-1].last + 1:
            merged[-1] = Span(merged[-1].first, max(merged[-1].last, span.last))
        else:
            merged.append(span)
    return merged
