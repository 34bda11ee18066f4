"""A partial order between capabilities, per dimension and combined.

| dimension | a is BETTER than b when |
|---|---|
| cpu, ram, disk | a offers more (`resources`) |
| gpus | b's devices each map to a distinct device of a that meets everything b's meets (same vendor, ≥ VRAM, model containing b's, ≥ compute capability), and not the reverse |
| executors, storage | a's set is a strict superset of b's (neither contains the other: INCOMPARABLE) |
| bandwidth | more bits per second |
| public_ports | more distinct ports |
| each of BENCHMARK_FIELDS | a higher score |
| network_rtt | lower; 0 (unmeasured) is INCOMPARABLE to anything but another 0 |
| price | same currency and every field ≤ (cheaper for the buyer); other currencies: INCOMPARABLE |
| location, labels, architecture, os | never: EQUAL or INCOMPARABLE |

GPUs compare on model and compute capability as well as vendor and VRAM so that the order
agrees with `check`: a capability at least as good on every dimension fits every requirement
the other fits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

import msgspec

from nunet.capability.fit import PRICE_FIELDS, normalise_architecture
from nunet.capability.gpus import assign_gpus, compute_capability_key
from nunet.capability.model import BENCHMARK_FIELDS, Capability, Gpu, GpuNeed


class Order(enum.Enum):
    BETTER = "better"
    EQUAL = "equal"
    WORSE = "worse"
    INCOMPARABLE = "incomparable"


DIMENSIONS = (
    "cpu",
    "ram",
    "disk",
    "gpus",
    "executors",
    "storage",
    "bandwidth",
    "public_ports",
    *BENCHMARK_FIELDS,
    "network_rtt",
    "price",
    "location",
    "labels",
    "architecture",
    "os",
)


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    dimensions: dict[str, Order]  # every name in DIMENSIONS, in that order
    overall: Order


def compare(a: Capability, b: Capability) -> Comparison:
    """How `a` stands against `b` on each dimension, and all dimensions combined."""
    dimensions = {name: _DIMENSIONS[name](a, b) for name in DIMENSIONS}
    return Comparison(dimensions=dimensions, overall=combine(dimensions.values()))


def combine(orders: Iterable[Order]) -> Order:
    """All EQUAL: EQUAL; none WORSE and some BETTER: BETTER; the mirror: WORSE; else INCOMPARABLE."""
    seen = set(orders)
    if Order.INCOMPARABLE in seen or {Order.BETTER, Order.WORSE} <= seen:
        return Order.INCOMPARABLE
    if Order.BETTER in seen:
        return Order.BETTER
    if Order.WORSE in seen:
        return Order.WORSE
    return Order.EQUAL


def _from_dominance(a_covers_b: bool, b_covers_a: bool) -> Order:
    if a_covers_b and b_covers_a:
        return Order.EQUAL
    if a_covers_b:
        return Order.BETTER
    if b_covers_a:
        return Order.WORSE
    return Order.INCOMPARABLE


def _more(x: float, y: float) -> Order:
    return _from_dominance(x >= y, y >= x)


def _superset(x: Iterable[str], y: Iterable[str]) -> Order:
    xs, ys = {n.casefold() for n in x}, {n.casefold() for n in y}
    return _from_dominance(xs >= ys, ys >= xs)


def _same(x: object, y: object) -> Order:
    return Order.EQUAL if x == y else Order.INCOMPARABLE


def _as_need(gpu: Gpu) -> GpuNeed:
    """The strictest need `gpu` meets: a device meeting it meets every need `gpu` meets."""
    return GpuNeed(
        vram=gpu.vram,
        vendor=gpu.vendor,
        model=gpu.model,
        # A device whose capability does not parse meets only needs that name none.
        compute_capability=gpu.compute_capability
        if compute_capability_key(gpu.compute_capability)
        else "",
    )


def _gpus(a: Capability, b: Capability) -> Order:
    ga, gb = a.resources.gpus, b.resources.gpus
    a_covers_b = assign_gpus([_as_need(g) for g in gb], ga) is not None
    b_covers_a = assign_gpus([_as_need(g) for g in ga], gb) is not None
    return _from_dominance(a_covers_b, b_covers_a)


def _rtt(a: Capability, b: Capability) -> Order:
    x, y = a.benchmarks.network_rtt, b.benchmarks.network_rtt
    if x == 0 or y == 0:
        return Order.EQUAL if x == y else Order.INCOMPARABLE
    return _more(y, x)


def _price(a: Capability, b: Capability) -> Order:
    if a.price.currency.casefold() != b.price.currency.casefold():
        return Order.INCOMPARABLE
    return combine(_more(getattr(b.price, f), getattr(a.price, f)) for f in PRICE_FIELDS)


def _benchmark(name: str) -> Callable[[Capability, Capability], Order]:
    return lambda a, b: _more(getattr(a.benchmarks, name), getattr(b.benchmarks, name))


_DIMENSIONS: dict[str, Callable[[Capability, Capability], Order]] = {
    "cpu": lambda a, b: _more(a.resources.cpu, b.resources.cpu),
    "ram": lambda a, b: _more(a.resources.ram, b.resources.ram),
    "disk": lambda a, b: _more(a.resources.disk, b.resources.disk),
    "gpus": _gpus,
    "executors": lambda a, b: _superset(a.executors, b.executors),
    "storage": lambda a, b: _superset(a.storage, b.storage),
    "bandwidth": lambda a, b: _more(a.network.bandwidth, b.network.bandwidth),
    "public_ports": lambda a, b: _more(
        len(set(a.network.public_ports)), len(set(b.network.public_ports))
    ),
    **{name: _benchmark(name) for name in BENCHMARK_FIELDS},
    "network_rtt": _rtt,
    "price": _price,
    "location": lambda a, b: _same(
        [str(getattr(a.location, f)).casefold() for f in ("continent", "country", "city", "asn")],
        [str(getattr(b.location, f)).casefold() for f in ("continent", "country", "city", "asn")],
    ),
    "labels": lambda a, b: _same(a.labels, b.labels),
    "architecture": lambda a, b: _same(
        normalise_architecture(a.cpu.architecture), normalise_architecture(b.cpu.architecture)
    ),
    "os": lambda a, b: _same(a.os.casefold(), b.os.casefold()),
}
