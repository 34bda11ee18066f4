"""How well a node meets a requirement's soft preferences: a score in [0, 1] for ranking.

The score is the weighted mean over `requirement.prefer` of one score in [0, 1] per preference;
with no preferences every node scores 0.5 (nothing is preferred, so every node is neutral).
Quantities saturate as `x / (x + reference)`: the reference is what the requirement asks (so a
node with exactly the asked amount free scores 0.5 and one with much more approaches 1) or, when
nothing is asked, the `REFERENCES` default. Lower-is-better quantities map as
`reference / (reference + x)`.
"""

from __future__ import annotations

from nunet.capability.errors import RequirementError
from nunet.capability.location import LOCATION_FIELDS
from nunet.capability.model import (
    BENCHMARK_FIELDS,
    Capability,
    Preference,
    Price,
    Requirement,
    Resources,
)

GIB = 1 << 30
PREFERENCE_DIMENSIONS = (
    "price",
    "cpu",
    "ram",
    "disk",
    "gpus",
    "vram",
    "bandwidth",
    *BENCHMARK_FIELDS,
    "network_rtt",
)  # plus the parameterised `location.<field>=<value>`, `label.<key>=<value>`, `executor=<name>`
# What a quantity is measured against when the requirement asks none of it.
REFERENCES: dict[str, float] = {
    "cpu": 1.0,  # cores
    "ram": GIB,
    "disk": 10 * GIB,
    "gpus": 1.0,
    "vram": 16 * GIB,
    "bandwidth": 100e6,  # bits per second
    "cpu_single": 1e4,  # 1 KiB zlib deflates per second (nunet.benchmark): about one core
    "cpu_multi": 4e4,  # about four cores
    "memory_bandwidth": 1e10,  # bytes per second
    "disk_read": 5e8,
    "disk_write": 5e8,
    "disk_random_iops": 1e4,
    "gpu_flops": 1e13,
    "network_rtt": 0.05,  # seconds, as the peer table's latency score
}


def hourly_cost(price: Price, resources: Resources) -> float:
    """Cost of holding `resources` for one hour at `price` (cores, GiB, GiB, GPUs; no per_job)."""
    return _cost(price, resources.cpu, resources.ram, resources.disk, len(resources.gpus))


def preference_score(capability: Capability, free: Resources, requirement: Requirement) -> float:
    """The weighted mean of the per-preference scores; 0.5 when there are no preferences."""
    total = sum(p.weight for p in requirement.prefer)
    if total <= 0:
        return 0.5
    weighted = sum(p.weight * _one(p, capability, free, requirement) for p in requirement.prefer)
    return min(1.0, max(0.0, weighted / total))


def validate_preference(dimension: str, field: str) -> None:
    """Raise `RequirementError` naming `field` unless `dimension` is one `preference_score` knows."""
    if dimension in PREFERENCE_DIMENSIONS:
        return
    name, equals, value = dimension.partition("=")
    prefix, dot, key = name.partition(".")
    known = (
        (prefix == "location" and dot and key in LOCATION_FIELDS)
        or (prefix == "label" and dot and key)
        or (name == "executor")
    )
    if known and equals and value:
        return
    raise RequirementError(
        f"{field}: {dimension!r} is not a preference; use one of "
        f"{', '.join(PREFERENCE_DIMENSIONS)}, location.<continent|country|city|asn>=<value>, "
        "label.<key>=<value> or executor=<name>"
    )


def _one(
    preference: Preference, capability: Capability, free: Resources, req: Requirement
) -> float:
    dimension = preference.dimension
    if dimension == "price":
        return 1.0 / (1.0 + _cost(capability.price, req.cpu, req.ram, req.disk, len(req.gpus)))
    if dimension == "network_rtt":
        rtt = capability.benchmarks.network_rtt
        return 0.5 if rtt == 0 else _low(rtt, REFERENCES["network_rtt"])
    if dimension in BENCHMARK_FIELDS:
        asked = req.benchmarks.get(dimension, 0.0)
        return _high(getattr(capability.benchmarks, dimension), asked, dimension)
    amounts = {
        "cpu": (free.cpu, req.cpu),
        "ram": (free.ram, req.ram),
        "disk": (free.disk, req.disk),
        "gpus": (len(free.gpus), len(req.gpus)),
        "vram": (sum(g.vram for g in free.gpus), sum(n.vram for n in req.gpus)),
        "bandwidth": (capability.network.bandwidth, req.bandwidth),
    }
    if dimension in amounts:
        have, asked = amounts[dimension]
        return _high(have, asked, dimension)
    return 1.0 if _holds(dimension, capability) else 0.0


def _holds(dimension: str, capability: Capability) -> bool:
    name, _, value = dimension.partition("=")
    prefix, _, key = name.partition(".")
    if prefix == "location" and key in LOCATION_FIELDS:
        have = getattr(capability.location, key)
        wanted = value.removeprefix("AS").removeprefix("as") if key == "asn" else value
        return str(have).casefold() == wanted.casefold()
    if prefix == "label":
        return capability.labels.get(key) == value
    if name == "executor":
        return value.casefold() in {e.casefold() for e in capability.executors}
    return False  # an unknown dimension scores 0; validate_requirement refuses it at the boundary


def _high(have: float, asked: float, dimension: str) -> float:
    reference = asked if asked > 0 else REFERENCES[dimension]
    return have / (have + reference) if have > 0 else 0.0


def _low(have: float, reference: float) -> float:
    return reference / (reference + have)


def _cost(price: Price, cpu: float, ram: int, disk: int, gpus: int) -> float:
    return price.cpu * cpu + price.ram * ram / GIB + price.disk * disk / GIB + price.gpu * gpus
