"""A bounded least-recently-used map from token id to its verification outcome."""

from __future__ import annotations

from collections import OrderedDict

from nunet.ucan.chain import VerifiedChain
from nunet.ucan.errors import CapabilityDenied

Outcome = VerifiedChain | CapabilityDenied


class ChainCache:
    """Verification of a chain depends only on its bytes, so both outcomes can be remembered."""

    def __init__(self, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError("a chain cache holds at least one entry")
        self._maxsize = maxsize
        self._entries: OrderedDict[str, Outcome] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, token_id: str) -> Outcome | None:
        outcome = self._entries.get(token_id)
        if outcome is None:
            self.misses += 1
            return None
        self._entries.move_to_end(token_id)
        self.hits += 1
        return outcome

    def put(self, token_id: str, outcome: Outcome) -> None:
        self._entries[token_id] = outcome
        self._entries.move_to_end(token_id)
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
