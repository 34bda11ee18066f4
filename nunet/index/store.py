"""The index's storage: one slot per node, its capability and free resources both as Python
objects (for exact checks and answers) and as numpy columns (for vectorised filters and ranks).

A node whose values cannot be compared exactly in columns (an int beyond 2**52, a float that is
not finite or is negative, more than `GPU_SLOTS` free GPUs, a DID longer than 256 bytes) is kept
*irregular*: its columns are not used and every query checks it with `nunet.capability.check`,
so the index's verdicts stay exact for any input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

import numpy as np

from nunet.capability.fit import normalise_architecture
from nunet.capability.model import BENCHMARK_FIELDS, Capability, Resources
from nunet.index.columns import Array, Interner, SlotColumns
from nunet.index.memberships import Memberships
from nunet.index.ordering import did_words

GPU_SLOTS = 8  # free GPUs per node kept in columns; a node with more is checked exactly
EXACT_LIMIT = 1 << 52  # ints up to this add, divide and convert to float64 exactly
DID_WORDS = (8, 16, 32)  # 64-bit words of DID kept for ranking ties; longer DIDs are irregular
PRICE_COLUMNS = ("price_cpu", "price_ram", "price_disk", "price_gpu", "price_per_job")
BENCHMARK_COLUMNS = (*BENCHMARK_FIELDS, "network_rtt")
LOCATION_COLUMNS = ("continent", "country", "city")
GpuKind = tuple[str, str, str]  # vendor, model, compute capability: what a need can ask of one


class _Irregular(Exception):
    """A value that the columns cannot hold exactly."""


@dataclass
class StoredEntry:
    """A node's entry: what it offers, what is free, and the terms it was indexed under."""

    did: str
    capability: Capability
    free: Resources
    up: bool
    static_ok: bool = False
    terms: tuple[frozenset[Hashable], frozenset[Hashable], frozenset[Hashable]] = field(
        default=(frozenset(), frozenset(), frozenset())
    )


class EntryStore:
    """Slots, columns, interned names and term memberships of every node's entry."""

    def __init__(self) -> None:
        self.columns = columns = SlotColumns()
        for name in ("used", "up", "regular"):
            columns.add(name, bool, fill=False)
        columns.add("cpu", np.float64)
        for name in ("ram", "disk", "gpus", "vram_max", "vram_sum", "bandwidth", "ports", "asn"):
            columns.add(name, np.int64)
        columns.add("gpu_vram", np.int64, width=(GPU_SLOTS,))
        columns.add("gpu_kind", np.int32, width=(GPU_SLOTS,))  # 0: no device
        for name in ("arch", "os", "currency", *LOCATION_COLUMNS):
            columns.add(name, np.int32)
        for name in (*PRICE_COLUMNS, *BENCHMARK_COLUMNS):
            columns.add(name, np.float64)
        self.did_words = 0
        self._widen_dids(DID_WORDS[0])
        self.names = Interner()  # architectures, OSes, location parts, currencies (folded)
        self.gpu_kinds: Interner = Interner()
        self.gpu_kind_list: list[GpuKind] = []  # by id - 1
        self.executors = Memberships(columns.capacity)
        self.storage = Memberships(columns.capacity)
        self.labels = Memberships(columns.capacity)
        self.slot_of: dict[str, int] = {}
        self.entries: list[StoredEntry | None] = []
        self.irregular: set[int] = set()

    def __len__(self) -> int:
        return len(self.slot_of)

    def __iter__(self) -> Iterator[StoredEntry]:
        return (entry for entry in self.entries if entry is not None)

    def get(self, did: str) -> StoredEntry | None:
        slot = self.slot_of.get(did)
        return None if slot is None else self.entries[slot]

    def put(self, did: str, capability: Capability, free: Resources, up: bool) -> None:
        """Set (or replace) the node's entry."""
        slot = self.slot_of.get(did)
        if slot is None:
            capacity = self.columns.capacity
            slot = self.columns.allocate()
            if self.columns.capacity != capacity:
                for memberships in self._memberships():
                    memberships.grow(self.columns.capacity)
            if slot == len(self.entries):
                self.entries.append(None)
            self.slot_of[did] = slot
        else:
            self._unindex_terms(slot)
        entry = StoredEntry(did, capability, free, up)
        self.entries[slot] = entry
        self.columns["used"][slot] = True
        self.columns["up"][slot] = up
        self._write_static(slot, entry)
        self._write_free(slot, entry)

    def set_free(self, did: str, free: Resources) -> bool:
        """Set what is free on the node; False if it has no entry."""
        slot = self.slot_of.get(did)
        if slot is None:
            return False
        entry = self.entries[slot]
        assert entry is not None
        entry.free = free
        self._write_free(slot, entry)
        return True

    def set_up(self, did: str, up: bool) -> None:
        slot = self.slot_of.get(did)
        if slot is not None:
            entry = self.entries[slot]
            assert entry is not None
            entry.up = up
            self.columns["up"][slot] = up

    def remove(self, did: str) -> bool:
        slot = self.slot_of.pop(did, None)
        if slot is None:
            return False
        self._unindex_terms(slot)
        self.entries[slot] = None
        self.irregular.discard(slot)
        self.columns.release(slot)
        return True

    def gpu_kind(self, kind_id: int) -> GpuKind:
        return self.gpu_kind_list[kind_id - 1]

    def _write_static(self, slot: int, entry: StoredEntry) -> None:
        """The columns that come from the capability and the DID."""
        try:
            cells, terms = self._static_cells(entry)
        except (_Irregular, TypeError, AttributeError, ValueError, OverflowError):
            entry.static_ok = False
            return
        words = did_words(entry.did, self.did_words)
        if words is None:
            wider = next(
                (n for n in DID_WORDS if n > self.did_words and did_words(entry.did, n)), None
            )
            if wider is None:
                entry.static_ok = False
                return
            self._widen_dids(wider)
            words = did_words(entry.did, wider)
            assert words is not None
        columns = self.columns
        for name, value in cells.items():
            columns[name][slot] = value
        for index, word in enumerate(words):
            columns[f"did{index}"][slot] = word
        for memberships, held in zip(self._memberships(), terms, strict=True):
            memberships.add(slot, held)
        entry.terms = terms
        entry.static_ok = True

    def _static_cells(
        self, entry: StoredEntry
    ) -> tuple[
        dict[str, object], tuple[frozenset[Hashable], frozenset[Hashable], frozenset[Hashable]]
    ]:
        capability = entry.capability
        names = self.names
        location = capability.location
        price = capability.price
        benchmarks = capability.benchmarks
        cells: dict[str, object] = {
            "arch": names.intern(normalise_architecture(capability.cpu.architecture)),
            "os": names.intern(capability.os.casefold()),
            "continent": names.intern(str(location.continent).casefold()),
            "country": names.intern(str(location.country).casefold()),
            "city": names.intern(str(location.city).casefold()),
            "asn": _int(location.asn, lowest=-(1 << 63), highest=(1 << 63) - 1),
            "currency": names.intern(price.currency.casefold()),
            "price_cpu": _float(price.cpu),
            "price_ram": _float(price.ram),
            "price_disk": _float(price.disk),
            "price_gpu": _float(price.gpu),
            "price_per_job": _float(price.per_job),
            "bandwidth": _int(capability.network.bandwidth),
            "ports": len(set(capability.network.public_ports)),
        }
        for name in BENCHMARK_COLUMNS:
            cells[name] = _float(getattr(benchmarks, name))
        terms: tuple[frozenset[Hashable], frozenset[Hashable], frozenset[Hashable]] = (
            frozenset(name.casefold() for name in capability.executors),
            frozenset(name.casefold() for name in capability.storage),
            frozenset(capability.labels.items()),
        )
        return cells, terms

    def _write_free(self, slot: int, entry: StoredEntry) -> None:
        """The columns that come from what is free; decides whether the slot is regular."""
        columns = self.columns
        try:
            cells = self._free_cells(entry.free)
        except (_Irregular, TypeError, AttributeError, ValueError, OverflowError):
            cells = None
        regular = entry.static_ok and cells is not None
        columns["regular"][slot] = regular
        if not regular:
            self.irregular.add(slot)
            return
        self.irregular.discard(slot)
        assert cells is not None
        for name, value in cells.items():
            columns[name][slot] = value

    def _free_cells(self, free: Resources) -> dict[str, object]:
        gpus = free.gpus
        if len(gpus) > GPU_SLOTS:
            raise _Irregular
        vram = [_int(gpu.vram) for gpu in gpus]
        total = sum(vram)
        if total > EXACT_LIMIT:
            raise _Irregular
        kinds = [self._kind_id((gpu.vendor, gpu.model, gpu.compute_capability)) for gpu in gpus]
        padding = GPU_SLOTS - len(gpus)
        return {
            "cpu": _float(free.cpu),
            "ram": _int(free.ram),
            "disk": _int(free.disk),
            "gpus": len(gpus),
            "vram_max": max(vram, default=0),
            "vram_sum": total,
            "gpu_vram": vram + [0] * padding,
            "gpu_kind": kinds + [0] * padding,
        }

    def _kind_id(self, kind: GpuKind) -> int:
        if not all(isinstance(part, str) for part in kind):
            raise _Irregular
        before = len(self.gpu_kinds)
        kind_id = self.gpu_kinds.intern(kind)
        if len(self.gpu_kinds) != before:
            self.gpu_kind_list.append(kind)
        return kind_id

    def _unindex_terms(self, slot: int) -> None:
        entry = self.entries[slot]
        if entry is None:
            return
        for memberships, held in zip(self._memberships(), entry.terms, strict=True):
            memberships.remove(slot, held)
        entry.terms = (frozenset(), frozenset(), frozenset())

    def _memberships(self) -> tuple[Memberships, Memberships, Memberships]:
        return self.executors, self.storage, self.labels

    def _widen_dids(self, words: int) -> None:
        for index in range(self.did_words, words):
            self.columns.add(f"did{index}", np.uint64)  # zero: the padding of shorter DIDs
        self.did_words = words

    def did_word_key(self, word: int, rows: Array) -> Callable[[Array], Array]:
        """The rank key of DID word `word` (0: most significant) of `rows`, at positions asked."""
        column = self.columns[f"did{word}"]

        def key(at: Array) -> Array:
            values: Array = column[rows[at]]
            return values

        return key


def _int(value: object, *, lowest: int = 0, highest: int = EXACT_LIMIT) -> int:
    if isinstance(value, int) and lowest <= value <= highest:
        return value
    raise _Irregular


def _float(value: object) -> float:
    if isinstance(value, float):
        if math.isfinite(value) and value >= 0:
            return value
        raise _Irregular
    return float(_int(value))
