"""An inverted index from terms (an executor, a storage kind, a label pair) to the slots holding them.

Each term keeps its slots in a numpy array with a position map (add and remove are O(1): a
removed slot's place is taken by the last one), so a query builds a term's boolean mask with one
vectorised assignment. A popular term's mask is also kept as a column, updated with the array,
up to `HOT_COLUMNS` columns (least recently used dropped), so memory stays bounded however many
distinct terms nodes announce.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable

import numpy as np

from nunet.index.columns import Array

HOT_COLUMNS = 64
HOT_AT = 256  # slots holding a term before its mask is kept as a column


class _Holders:
    """The slots holding one term, packed at the front of an array."""

    def __init__(self) -> None:
        self.slots: Array = np.empty(4, dtype=np.intp)
        self.position: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.position)

    def add(self, slot: int) -> None:
        if slot in self.position:
            return
        count = len(self.position)
        if count == len(self.slots):
            grown = np.empty(count * 2, dtype=np.intp)
            grown[:count] = self.slots
            self.slots = grown
        self.slots[count] = slot
        self.position[slot] = count

    def remove(self, slot: int) -> None:
        index = self.position.pop(slot, None)
        if index is None:
            return
        last = len(self.position)  # the index of the last slot, now that one was removed
        if index != last:
            moved = int(self.slots[last])
            self.slots[index] = moved
            self.position[moved] = index

    def held(self) -> Array:
        held: Array = self.slots[: len(self.position)]
        return held


class Memberships:
    """term -> slots, with masks over `capacity` slots."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._holders: dict[Hashable, _Holders] = {}
        self._hot: OrderedDict[Hashable, Array] = OrderedDict()

    def add(self, slot: int, terms: Iterable[Hashable]) -> None:
        for term in terms:
            holders = self._holders.get(term)
            if holders is None:
                holders = self._holders[term] = _Holders()
            holders.add(slot)
            column = self._hot.get(term)
            if column is not None:
                column[slot] = True

    def remove(self, slot: int, terms: Iterable[Hashable]) -> None:
        for term in terms:
            holders = self._holders.get(term)
            if holders is None:
                continue
            holders.remove(slot)
            if not holders:
                del self._holders[term]
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
        holders = self._holders.get(term)
        return 0 if holders is None else len(holders)

    def mask(self, term: Hashable) -> Array:
        """Which slots hold `term` (a fresh array or a kept column: do not modify it)."""
        column = self._hot.get(term)
        if column is not None:
            self._hot.move_to_end(term)
            return column
        mask = np.zeros(self._capacity, dtype=bool)
        holders = self._holders.get(term)
        if holders is None:
            return mask
        mask[holders.held()] = True
        if len(holders) >= HOT_AT:
            self._hot[term] = mask
            if len(self._hot) > HOT_COLUMNS:
                self._hot.popitem(last=False)
        return mask
