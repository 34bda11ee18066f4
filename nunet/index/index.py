"""CapabilityIndex: which node offers what and what is free now, as a projection of events.

Events (from the swarm log or the node's own log) change it in O(1) each; queries filter and
rank every entry with numpy (see `query`). Liveness is last-writer-wins by record timestamp, so
the order in which different nodes' records arrive does not change the result.
"""

from __future__ import annotations

import msgspec

from nunet.capability.model import Capability, Requirement, Resources
from nunet.eventlog import Event
from nunet.index.errors import InvalidEvent
from nunet.index.gpu_fit import GpuKindTables
from nunet.index.query import IndexAnswer, run_query
from nunet.index.store import EntryStore
from nunet.onboarding.events import (
    Allocated,
    CapabilityAnnounced,
    Offboarded,
    Onboarded,
    Released,
    Resized,
)
from nunet.peers.events import PeerDown, PeerUp

INDEXED_EVENTS: tuple[type[Event], ...] = (
    CapabilityAnnounced,
    Allocated,
    Released,
    Offboarded,
    Onboarded,
    Resized,
    PeerDown,
    PeerUp,
)
INDEXED_TYPES = frozenset(cls.TYPE for cls in INDEXED_EVENTS)


class IndexEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One node as the index knows it."""

    did: str
    capability: Capability
    free: Resources
    up: bool


class Liveness(msgspec.Struct, frozen=True, array_like=True):
    """The latest word on whether a node is up: at `at` (record timestamp, ns)."""

    at: int
    up: bool


class IndexSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the index holds, in a canonical order: equal indexes give equal snapshots."""

    entries: list[IndexEntry]  # by DID
    liveness: dict[str, Liveness]  # by DID, sorted


class CapabilityIndex:
    """The swarm's capability index. Feed it with `apply`; ask it with `query`.

    Event rules (`node` is the DID of the log the event was written to, `at` its record's
    timestamp in ns):

    - `capability.announced` sets (or replaces) the node's entry: capability and free resources.
    - `resources.allocated` / `resources.released` set the entry's free resources (ignored
      before the node's first announcement: the next one carries what is free).
    - `onboarding.offboarded` withdraws the entry. `onboarding.onboarded` / `resized` change
      nothing: the announcement that follows them is authoritative.
    - `peer.down` / `peer.up` (written by another node about `did`) mark `did` down / up.
      Every event a node writes about itself above shows it up at `at`. The word with the
      latest `at` wins (up on a tie), whichever order records from different nodes arrive in.
    """

    def __init__(self) -> None:
        self._store = EntryStore()
        self._tables = GpuKindTables(self._store)
        self._liveness: dict[str, Liveness] = {}

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, did: object) -> bool:
        return did in self._store.slot_of

    def apply(self, node: str, event: Event, at: int) -> bool:
        """Apply one event from `node`'s log; False if the index does not read its type."""
        if not isinstance(node, str) or not node:
            raise InvalidEvent(f"the node DID of a {event.TYPE} event must be a non-empty string")
        if not isinstance(at, int):
            raise InvalidEvent(f"the timestamp of a {event.TYPE} event must be an int of ns")
        store = self._store
        match event:
            case CapabilityAnnounced(capability=capability, free=free):
                up = self._heard(node, at, up=True)
                store.put(node, capability, free, up)
            case Allocated(free=free) | Released(free=free):
                store.set_free(node, free)
                self._heard(node, at, up=True)
            case Offboarded():
                store.remove(node)
                self._heard(node, at, up=True)
            case Onboarded() | Resized():
                self._heard(node, at, up=True)
            case PeerDown(did=did) if did != node:
                self._heard(did, at, up=False)
            case PeerUp(did=did) if did != node:
                self._heard(did, at, up=True)
            case PeerDown() | PeerUp():
                pass  # a node's word about itself is not evidence of anything
            case _:
                return False
        return True

    def query(self, requirement: Requirement, *, limit: int = 10) -> IndexAnswer:
        """The `limit` best nodes for `requirement` now, and counts of why the others do not fit.

        Fit verdicts are exactly those of `nunet.capability.check` (for the requirement as its
        wire form validates it; InvalidQuery otherwise); nodes marked down are left out.
        """
        return run_query(self._store, self._tables, requirement, limit)

    def get(self, did: str) -> IndexEntry | None:
        entry = self._store.get(did)
        if entry is None:
            return None
        return IndexEntry(did=did, capability=entry.capability, free=entry.free, up=entry.up)

    def entries(self) -> dict[str, IndexEntry]:
        """Every entry by DID (a copy)."""
        return {
            entry.did: IndexEntry(
                did=entry.did, capability=entry.capability, free=entry.free, up=entry.up
            )
            for entry in self._store
        }

    def snapshot(self) -> IndexSnapshot:
        entries = self.entries()
        return IndexSnapshot(
            entries=[entries[did] for did in sorted(entries)],
            liveness={did: self._liveness[did] for did in sorted(self._liveness)},
        )

    @classmethod
    def from_snapshot(cls, snapshot: IndexSnapshot) -> CapabilityIndex:
        index = cls()
        index._liveness = dict(snapshot.liveness)
        for entry in snapshot.entries:
            index._store.put(entry.did, entry.capability, entry.free, entry.up)
        return index

    def _heard(self, did: str, at: int, *, up: bool) -> bool:
        """Record a word on `did`'s liveness; returns whether it is up now."""
        known = self._liveness.get(did)
        if known is None or (at, up) > (known.at, known.up):
            known = self._liveness[did] = Liveness(at, up)
            self._store.set_up(did, up)
        return known.up
