"""The nonce replay window: an envelope's nonce is remembered until the envelope expires."""

from __future__ import annotations

import heapq


class ReplayWindow:
    """Remembers nonces until their envelope's expiry; memory is bounded by `capacity`.

    Envelopes live at most `max_ttl` (the guard enforces it), so a nonce older than its expiry can
    be forgotten: a replay of it is rejected as expired instead. When more than `capacity`
    unexpired nonces are held, the window refuses new envelopes rather than forget early.
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._capacity = capacity
        self._expiry: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def remember(self, nonce: bytes, expires_at: int, now: int) -> bool:
        """Record the nonce; False if it was already seen (a replay) or the window is full."""
        self._forget_expired(now)
        if nonce in self._expiry:
            return False
        if len(self._expiry) >= self._capacity:
            return False
        self._expiry[nonce] = expires_at
        heapq.heappush(self._heap, (expires_at, nonce))
        return True

    def is_full(self) -> bool:
        return len(self._expiry) >= self._capacity

    def _forget_expired(self, now: int) -> None:
        heap = self._heap
        while heap and heap[0][0] < now:
            _, nonce = heapq.heappop(heap)
            self._expiry.pop(nonce, None)
