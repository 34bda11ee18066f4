"""A bounded window of recently seen message ids, so a subscription handles each publication once.

A node attached to more than one hub can receive the same publication along several paths.
"""

from __future__ import annotations

from collections import deque

DEFAULT_DEDUP_WINDOW = 10_000
"""Ids remembered per subscription: duplicates arrive close together, so a window suffices."""


class RecentIds:
    """The last `capacity` distinct ids, oldest forgotten first."""

    def __init__(self, capacity: int = DEFAULT_DEDUP_WINDOW) -> None:
        if capacity < 1:
            raise ValueError(f"a de-duplication window holds at least one id, not {capacity}")
        self._capacity = capacity
        self._order: deque[str] = deque()
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._seen

    def add(self, message_id: str) -> bool:
        """Remember `message_id`; False if it is already in the window (a duplicate)."""
        if message_id in self._seen:
            return False
        self._seen.add(message_id)
        self._order.append(message_id)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return True
