"""An inverted index from terms (an executor, a storage kind, a label pair) to the slots holding them.

Each term keeps a set of slots (updated in O(1) per term when a node changes). A query needs a
boolean mask per term: terms held by few slots get theirs built on the fly; a popular term's mask
is kept as a column and updated with the sets, up to `HOT_COLUMNS` columns (least recently used
dropped), so memory stays bounded however many distinct terms nodes announce.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable

import numpy as np

from nunet.index.columns import Array

HOT_COLUMNS = 64
HOT_AT = 256  # slots holding a term before its mask is kept as a column


class Memberships:
    """term -> slots, with masks over `capacity` slots."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._slots: dict[Hashable, set[int]] = {}
        self._hot: OrderedDict[Hashable, Array] = OrderedDict()

    def add(self, slot: int, terms: Iterable[Hashable]) -> None:
        for term in terms:
            self._slots.setdefault(term, set()).add(slot)
            column = self._hot.get(term)
            if column is not None:
                column[slot] = True

    def remove(self, slot: int, terms: Iterable[Hashable]) -> None:
        for term in terms:
            holders = self._slots.get(term)
            if holders is None:
                continue
            holders.discard(slot)
            if not holders:
                del self._slots[term]
                self._hot.pop(term, None)
                continue
            column = self._hot.get(term)
            if column is not None:
                column[slot] = False

    def grow(self, capacity: int) -> None:
        for term, column in self._hot.items():
            grown = np.zeros(capacity, dtype=bool)
            grown[: len(column)] = column
            self._hot[term] = grown
        self._capacity = capacity

    def count(self, term: Hashable) -> int:
        return len(self._slots.get(term, ()))

    def mask(self, term: Hashable) -> Array:
        """Which slots hold `term` (a fresh array or a kept column: do not modify it)."""
        column = self._hot.get(term)
        if column is not None:
            self._hot.move_to_end(term)
            return column
        holders = self._slots.get(term)
        mask = np.zeros(self._capacity, dtype=bool)
        if not holders:
            return mask
        mask[np.fromiter(holders, dtype=np.intp, count=len(holders))] = True
        if len(holders) >= HOT_AT:
            self._hot[term] = mask
            if len(self._hot) > HOT_COLUMNS:
                self._hot.popitem(last=False)
        return mask
