"""Capped exponential backoff for retrying the swarm: 50 ms, 100 ms, ... up to a ceiling."""

from __future__ import annotations


class Backoff:
    """The delay before each next retry; `reset()` once something succeeded."""

    def __init__(self, initial: float = 0.05, ceiling: float = 5.0, factor: float = 2.0) -> None:
        if not 0 < initial <= ceiling or factor < 1:
            raise ValueError("need 0 < initial <= ceiling and factor >= 1")
        self._initial = initial
        self._ceiling = ceiling
        self._factor = factor
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self._factor, self._ceiling)
        return delay

    def reset(self) -> None:
        self._next = self._initial
