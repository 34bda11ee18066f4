"""What an orchestrator remembers of each peer's failures: the prior_failures ranker's input.

A reply refused as forged, malformed, impersonating, unfit, duplicated, late or expired counts
against its (authenticated) sender; orchestration adds failed allocations. Bounded: past
`capacity` peers, the one recorded longest ago is forgotten first.
"""

from __future__ import annotations


class FailureBook:
    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._counts: dict[str, int] = {}

    def record(self, did: str) -> int:
        """Count one more failure of `did`; its total."""
        count = self._counts.pop(did, 0) + 1
        self._counts[did] = count  # re-inserted: the most recently recorded is kept longest
        if len(self._counts) > self._capacity:
            del self._counts[next(iter(self._counts))]
        return count

    def count(self, did: str) -> int:
        return self._counts.get(did, 0)

    def __len__(self) -> int:
        return len(self._counts)
