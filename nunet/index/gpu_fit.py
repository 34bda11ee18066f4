"""GPU needs against many nodes at once, with the same verdict as `assign_gpus` node by node.

Each need becomes, per node, a bit mask of the free devices that meet it (VRAM from a column;
vendor, model and compute capability from a table over the distinct device kinds, built with
`gpu_meets` itself). By Hall's theorem a distinct device for every need exists iff every set of
needs is met by at least as many devices as it has needs; identical needs are grouped, so a
requirement with t distinct needs costs 2**t - 1 vectorised checks.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import numpy as np

from nunet.capability.gpus import assign_gpus, gpu_meets
from nunet.capability.model import Gpu, GpuNeed
from nunet.index.columns import Array
from nunet.index.store import EntryStore

MAX_DISTINCT_NEEDS = 8  # beyond this many distinct needs, nodes are checked one by one
_TABLE_CACHE = 1024


class GpuKindTables:
    """Per need (VRAM aside): which interned device kinds meet it, extended as kinds appear."""

    def __init__(self, store: EntryStore) -> None:
        self._store = store
        self._tables: dict[GpuNeed, Array] = {}

    def table(self, need: GpuNeed) -> Array:
        """bool by kind id; id 0 (no device) is False."""
        key = msgspec.structs.replace(need, vram=0)
        table = self._tables.get(key)
        kinds = len(self._store.gpu_kinds)
        if table is not None and len(table) == kinds + 1:
            return table
        grown = np.zeros(kinds + 1, dtype=bool)
        start = 1
        if table is not None:
            grown[: len(table)] = table
            start = len(table)
        for kind_id in range(start, kinds + 1):
            vendor, model, capability = self._store.gpu_kind(kind_id)
            device = Gpu(index=0, vendor=vendor, model=model, vram=0, compute_capability=capability)
            grown[kind_id] = gpu_meets(key, device)
        if len(self._tables) >= _TABLE_CACHE:
            self._tables.clear()
        self._tables[key] = grown
        return grown


def gpus_fit(
    store: EntryStore, tables: GpuKindTables, needs: tuple[GpuNeed, ...], rows: Array
) -> Array:
    """bool per row (a slot of a regular entry): can every need get a distinct free device?"""
    columns = store.columns
    counts = columns["gpus"][rows]
    most = max(need.vram for need in needs)
    possible = (counts >= len(needs)) & (columns["vram_max"][rows] >= most)
    result = np.zeros(len(rows), dtype=bool)
    candidates = rows[possible]
    if len(candidates) == 0:
        return result
    distinct = Counter(needs)
    if len(distinct) > MAX_DISTINCT_NEEDS:
        entries = store.entries
        result[possible] = [
            assign_gpus(needs, entry.free.gpus) is not None
            for slot in candidates
            if (entry := entries[slot]) is not None
        ]
        return result
    vram = columns["gpu_vram"][candidates]
    kinds = columns["gpu_kind"][candidates]
    masks: list[Array] = []
    for need in distinct:
        meets = tables.table(need)[kinds] & (vram >= need.vram)
        # one byte per node: GPU_SLOTS is 8
        masks.append(np.packbits(meets, axis=1, bitorder="little").reshape(-1))
    sizes = list(distinct.values())
    fits = np.ones(len(candidates), dtype=bool)
    unions: dict[int, Array] = {}
    for subset in range(1, 1 << len(masks)):
        low = (subset & -subset).bit_length() - 1
        rest = subset & (subset - 1)
        union = masks[low] if rest == 0 else unions[rest] | masks[low]
        unions[subset] = union
        wanted = sum(size for i, size in enumerate(sizes) if subset >> i & 1)
        fits &= np.bitwise_count(union) >= wanted
    result[possible] = fits
    return result
