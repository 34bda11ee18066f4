"""Growable numpy columns with one slot per node, and the interners that turn names into ids.

A slot freed by a withdrawn node is reused before the columns grow; growing doubles the
capacity, so assigning a slot costs O(1) amortised and a query scans arrays, never objects.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
INITIAL_CAPACITY = 64


class SlotColumns:
    """Named arrays sharing one first axis (the slot); `allocate` and `release` hand slots out."""

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.capacity = max(1, capacity)
        self._specs: dict[str, tuple[np.dtype[Any], tuple[int, ...], Any]] = {}
        self._arrays: dict[str, Array] = {}
        self._free: list[int] = []
        self.high_water = 0  # slots [0, high_water) have been handed out at least once
        self.in_use = 0

    def add(
        self, name: str, dtype: npt.DTypeLike, *, width: tuple[int, ...] = (), fill: Any = 0
    ) -> Array:
        """A new column of `dtype` (each cell an array of shape `width`), filled with `fill`."""
        spec = (np.dtype(dtype), width, fill)
        self._specs[name] = spec
        array = np.full((self.capacity, *width), fill, dtype=spec[0])
        self._arrays[name] = array
        return array

    def __getitem__(self, name: str) -> Array:
        return self._arrays[name]

    def allocate(self) -> int:
        """A slot to write a node into: a released one if any, else the next never used."""
        self.in_use += 1
        if self._free:
            return self._free.pop()
        if self.high_water == self.capacity:
            self._grow(self.capacity * 2)
        slot = self.high_water
        self.high_water += 1
        return slot

    def release(self, slot: int) -> None:
        """Give `slot` back; its cells are reset to each column's fill value."""
        for name, (_, _, fill) in self._specs.items():
            self._arrays[name][slot] = fill
        self._free.append(slot)
        self.in_use -= 1

    def _grow(self, capacity: int) -> None:
        for name, (dtype, width, fill) in self._specs.items():
            grown = np.full((capacity, *width), fill, dtype=dtype)
            grown[: self.capacity] = self._arrays[name]
            self._arrays[name] = grown
        self.capacity = capacity


class Interner:
    """Stable small ids for names: the same name always gets the same id; ids are never reused.

    Ids start at 1 so that 0 can stand for "no such name" in lookup tables.
    """

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def intern(self, name: Hashable) -> int:
        found = self._ids.get(name)
        if found is None:
            found = self._ids[name] = len(self._ids) + 1
        return found

    def get(self, name: Hashable) -> int:
        """The name's id, or 0 if it was never interned (no slot can hold it)."""
        return self._ids.get(name, 0)
