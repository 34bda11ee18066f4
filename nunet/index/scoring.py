"""The ranking keys: `preference_score` computed over many rows at once, and the default order.

The vectorised score repeats `nunet.capability.preference_score` operation for operation on
float64 columns; for regular entries (every int at most 2**52, every float finite) each
operation is exact or correctly rounded in both, so the scores are bit-identical and the
index ranks exactly as the scalar function would.

Default order (after the preference score): more `headroom` first — how many times the ask
fits in what is free (the smallest ratio free / asked over cpu, ram, disk and GPU count among
those asked; free cores when nothing is asked) — then cheaper `ask_cost` (`hourly_cost` of the
ask at the node's prices), then the DID.
"""

from __future__ import annotations

import math

import numpy as np

from nunet.capability.location import LOCATION_FIELDS
from nunet.capability.model import BENCHMARK_FIELDS, Price, Requirement, Resources
from nunet.capability.score import GIB, REFERENCES
from nunet.index.columns import Array
from nunet.index.store import EntryStore


def headroom(free: Resources, requirement: Requirement) -> float:
    """How many times the ask fits in `free`, as float64 (exact reference of `headrooms`)."""
    have = (float(free.cpu), float(free.ram), float(free.disk), float(len(free.gpus)))
    ratios = [have[which] / asked for which, asked in _asked(requirement)]
    return min(ratios) if ratios else float(free.cpu)


def ask_cost(price: Price, requirement: Requirement) -> float:
    """What the ask costs per hour at `price` (`hourly_cost` of cpu, ram, disk and GPU count)."""
    return (
        price.cpu * requirement.cpu
        + price.ram * requirement.ram / GIB
        + price.disk * requirement.disk / GIB
        + price.gpu * len(requirement.gpus)
    )


def headrooms(store: EntryStore, requirement: Requirement, rows: Array) -> Array:
    columns = store.columns
    cpu: Array = columns["cpu"][rows]
    have = ("cpu", "ram", "disk", "gpus")
    result: Array | None = None
    for which, asked in _asked(requirement):
        ratio: Array = columns[have[which]][rows].astype(np.float64) / asked
        result = ratio if result is None else np.minimum(result, ratio)
    return cpu if result is None else result


def ask_costs(store: EntryStore, requirement: Requirement, rows: Array) -> Array:
    columns = store.columns
    cost: Array = (
        columns["price_cpu"][rows] * requirement.cpu
        + columns["price_ram"][rows] * requirement.ram / GIB
        + columns["price_disk"][rows] * requirement.disk / GIB
        + columns["price_gpu"][rows] * len(requirement.gpus)
    )
    return cost


def scores(store: EntryStore, requirement: Requirement, rows: Array) -> Array:
    """`preference_score` of each row; requirement.prefer's total weight must be positive."""
    total = sum(p.weight for p in requirement.prefer)
    weighted: Array | float = 0
    with np.errstate(all="ignore"):
        for preference in requirement.prefer:
            weighted = weighted + preference.weight * _one(
                store, preference.dimension, requirement, rows
            )
        result: Array = np.minimum(1.0, np.maximum(0.0, np.asarray(weighted) / total))
    return result


def _asked(requirement: Requirement) -> list[tuple[int, float]]:
    """(0 cpu | 1 ram | 2 disk | 3 GPU count, the amount asked as float) for each one asked."""
    amounts = (requirement.cpu, requirement.ram, requirement.disk, len(requirement.gpus))
    return [(which, float(asked)) for which, asked in enumerate(amounts) if asked > 0]


def _one(store: EntryStore, dimension: str, requirement: Requirement, rows: Array) -> Array:
    columns = store.columns
    if dimension == "price":
        one: Array = 1.0 / (1.0 + ask_costs(store, requirement, rows))
        return one
    if dimension == "network_rtt":
        rtt = columns["network_rtt"][rows]
        reference = REFERENCES["network_rtt"]
        near: Array = np.where(rtt == 0, 0.5, reference / (reference + rtt))
        return near
    if dimension in BENCHMARK_FIELDS:
        asked = requirement.benchmarks.get(dimension, 0.0)
        return _high(columns[dimension][rows], asked, dimension)
    amounts = {
        "cpu": ("cpu", requirement.cpu),
        "ram": ("ram", requirement.ram),
        "disk": ("disk", requirement.disk),
        "gpus": ("gpus", len(requirement.gpus)),
        "vram": ("vram_sum", sum(need.vram for need in requirement.gpus)),
        "bandwidth": ("bandwidth", requirement.bandwidth),
    }
    if dimension in amounts:
        column, asked = amounts[dimension]
        return _high(columns[column][rows].astype(np.float64), asked, dimension)
    return _holds(store, dimension, rows).astype(np.float64)


def _high(have: Array, asked: float, dimension: str) -> Array:
    reference = float(asked if asked > 0 else REFERENCES[dimension])
    high: Array = np.where(have > 0, have / (have + reference), 0.0)
    return high


def _holds(store: EntryStore, dimension: str, rows: Array) -> Array:
    """The rows whose node has the named location part, label or executor."""
    name, _, value = dimension.partition("=")
    prefix, _, key = name.partition(".")
    columns = store.columns
    if prefix == "location" and key in LOCATION_FIELDS:
        if key == "asn":
            wanted = value.removeprefix("AS").removeprefix("as").casefold()
            asn = canonical_int(wanted)
            if asn is None:
                return np.zeros(len(rows), dtype=bool)
            same_asn: Array = columns["asn"][rows] == asn
            return same_asn
        same: Array = columns[key][rows] == store.names.get(value.casefold())
        return same
    if prefix == "label":
        return store.labels.mask((key, value))[rows]
    if name == "executor":
        return store.executors.mask(value.casefold())[rows]
    return np.zeros(len(rows), dtype=bool)


def canonical_int(text: str) -> int | None:
    """The int whose `str` is exactly `text`, if any (so `str(asn) == text` is `asn == it`)."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if str(number) == text else None


def finite_or(value: float, worst: float) -> float:
    """`value`, or `worst` when it is NaN (a key that sorts last)."""
    return worst if math.isnan(value) else value
