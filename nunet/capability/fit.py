"""Whether a node can take a requirement now: every hard constraint checked, every miss reported.

cpu, ram, disk and gpus are checked against what is free; everything else against the
capability. `CONSTRAINTS` lists the constraint keys in evaluation order; a `Fit` reports every
unmet one (at most one `Unmet` per key, in that order), never just the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from nunet.capability.gpus import assign_gpus
from nunet.capability.location import describe_location, rule_matches
from nunet.capability.model import (
    BENCHMARK_FIELDS,
    Capability,
    Gpu,
    GpuNeed,
    Location,
    Price,
    Requirement,
    Resources,
)
from nunet.capability.units import format_bandwidth, format_size

CONSTRAINTS = (
    "peer",
    "location",
    "architecture",
    "os",
    "executors",
    "storage",
    "labels",
    "price",
    "bandwidth",
    "public_ports",
    "benchmarks",
    "cpu",
    "ram",
    "disk",
    "gpus",
)
PRICE_FIELDS = ("cpu", "ram", "disk", "gpu", "per_job")
# Spellings of one architecture: `uname -m` says x86_64/aarch64, Docker and Go say amd64/arm64.
_ARCHITECTURE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


class Unmet(msgspec.Struct, frozen=True, kw_only=True):
    constraint: str  # one of CONSTRAINTS
    detail: str  # what was asked and what the node has, for a person


class Fit(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    unmet: tuple[Unmet, ...] = ()
    gpus: tuple[Gpu, ...] = ()  # the free devices chosen for the requirement's GPU needs


def check(
    capability: Capability, free: Resources, requirement: Requirement, *, did: str = ""
) -> Fit:
    """Check `requirement` against a node offering `capability` with `free` resources now."""
    chosen = assign_gpus(requirement.gpus, free.gpus) if requirement.gpus else ()
    checks: dict[str, Callable[[], str]] = {
        "peer": lambda: _peer(requirement, did),
        "location": lambda: _location(requirement, capability),
        "architecture": lambda: _architecture(requirement, capability),
        "os": lambda: _os(requirement, capability),
        "executors": lambda: _missing("executors", requirement.executors, capability.executors),
        "storage": lambda: _missing("storage", requirement.storage, capability.storage),
        "labels": lambda: _labels(requirement, capability),
        "price": lambda: _price(requirement.max_price, capability.price),
        "bandwidth": lambda: _bandwidth(requirement, capability),
        "public_ports": lambda: _public_ports(requirement, capability),
        "benchmarks": lambda: _benchmarks(requirement, capability),
        "cpu": lambda: _cpu(requirement, free, capability),
        "ram": lambda: _size("ram", requirement.ram, free.ram, capability.resources.ram),
        "disk": lambda: _size("disk", requirement.disk, free.disk, capability.resources.disk),
        "gpus": lambda: "" if chosen is not None else _gpus(requirement.gpus, free, capability),
    }
    unmet = tuple(
        Unmet(constraint=key, detail=detail) for key in CONSTRAINTS if (detail := checks[key]())
    )
    return Fit(ok=not unmet, unmet=unmet, gpus=chosen or ())


def same_architecture(a: str, b: str) -> bool:
    return normalise_architecture(a) == normalise_architecture(b)


def normalise_architecture(name: str) -> str:
    folded = name.strip().casefold()
    return _ARCHITECTURE_ALIASES.get(folded, folded)


def _peer(requirement: Requirement, did: str) -> str:
    shown = did or "(unknown DID)"
    if did and did in requirement.reject_peers:
        return f"peer {shown} is rejected"
    if requirement.accept_peers and did not in requirement.accept_peers:
        return f"peer {shown} is not among the {len(requirement.accept_peers)} accepted peers"
    return ""


def _location(requirement: Requirement, capability: Capability) -> str:
    where = capability.location
    problems = []
    accept = requirement.accept_locations
    if accept and not any(rule_matches(rule, where) for rule in accept):
        wanted = ", ".join(describe_location(rule) for rule in accept)
        problems.append(f"location {_shown(where)} is not in the accepted {wanted}")
    rejected = [
        describe_location(r) for r in requirement.reject_locations if rule_matches(r, where)
    ]
    if rejected:
        problems.append(f"location {_shown(where)} is rejected by {', '.join(rejected)}")
    return "; ".join(problems)


def _shown(where: Location) -> str:
    text = describe_location(where)
    return "unknown" if text == "anywhere" else text


def _architecture(requirement: Requirement, capability: Capability) -> str:
    have = capability.cpu.architecture
    if not requirement.architectures:
        return ""
    if any(same_architecture(want, have) for want in requirement.architectures):
        return ""
    return f"needs {_any_of(requirement.architectures)}; node is {have or 'unknown'}"


def _os(requirement: Requirement, capability: Capability) -> str:
    if not requirement.os:
        return ""
    if capability.os.casefold() in {name.casefold() for name in requirement.os}:
        return ""
    return f"needs {_any_of(requirement.os)}; node runs {capability.os or 'unknown'}"


def _missing(what: str, wanted: Iterable[str], offered: Iterable[str]) -> str:
    have = {name.casefold() for name in offered}
    lacking = [name for name in wanted if name.casefold() not in have]
    if not lacking:
        return ""
    shown = ", ".join(offered) or "none"
    return f"lacks {what} {', '.join(lacking)}; node offers {shown}"


def _labels(requirement: Requirement, capability: Capability) -> str:
    problems = []
    for key, value in requirement.labels.items():
        have = capability.labels.get(key)
        if have != value:
            shown = "absent" if have is None else f"{have!r}"
            problems.append(f"label {key}={value!r} needed, node's is {shown}")
    return "; ".join(problems)


def _price(cap: Price | None, price: Price) -> str:
    if cap is None:
        return ""
    if cap.currency.casefold() != price.currency.casefold():
        return f"node prices in {price.currency}, the cap is in {cap.currency}"
    problems = []
    for name in PRICE_FIELDS:
        most = getattr(cap, name)
        asked = getattr(price, name)
        if most and asked > most:
            problems.append(f"{name} costs {asked:g} {price.currency}, cap {most:g}")
    return "; ".join(problems)


def _bandwidth(requirement: Requirement, capability: Capability) -> str:
    have = capability.network.bandwidth
    if have >= requirement.bandwidth:
        return ""
    return f"needs {format_bandwidth(requirement.bandwidth)}; node has {format_bandwidth(have)}"


def _public_ports(requirement: Requirement, capability: Capability) -> str:
    have = len(set(capability.network.public_ports))
    if have >= requirement.public_ports:
        return ""
    return f"needs {requirement.public_ports} public ports; node has {have}"


def _benchmarks(requirement: Requirement, capability: Capability) -> str:
    problems = []
    for name, least in requirement.benchmarks.items():
        if name not in BENCHMARK_FIELDS:
            problems.append(f"{name} is not a benchmark (known: {', '.join(BENCHMARK_FIELDS)})")
            continue
        have = getattr(capability.benchmarks, name)
        if have < least:
            problems.append(f"{name} needs {least:g}; node measured {have:g}")
    return "; ".join(problems)


def _cpu(requirement: Requirement, free: Resources, capability: Capability) -> str:
    if free.cpu >= requirement.cpu:
        return ""
    return (
        f"needs {requirement.cpu:g} cores; {free.cpu:g} free of "
        f"{capability.resources.cpu:g} onboarded"
    )


def _size(what: str, wanted: int, free: int, onboarded: int) -> str:
    if free >= wanted:
        return ""
    return (
        f"needs {format_size(wanted)} {what}; {format_size(free)} free of "
        f"{format_size(onboarded)} onboarded"
    )


def _gpus(needs: tuple[GpuNeed, ...], free: Resources, capability: Capability) -> str:
    asked = "; ".join(_describe_need(need) for need in needs)
    shown = ", ".join(f"#{g.index} {g.model or g.vendor} {format_size(g.vram)}" for g in free.gpus)
    return (
        f"needs {len(needs)} distinct GPUs ({asked}); {len(free.gpus)} free of "
        f"{len(capability.resources.gpus)} onboarded ({shown or 'none'}) cannot meet them"
    )


def _describe_need(need: GpuNeed) -> str:
    parts = [f"vram ≥ {format_size(need.vram)}"] if need.vram else []
    parts += [need.vendor] if need.vendor else []
    parts += [f"model ~{need.model}"] if need.model else []
    parts += [f"compute ≥ {need.compute_capability}"] if need.compute_capability else []
    return " ".join(parts) or "any"


def _any_of(names: Iterable[str]) -> str:
    listed = list(names)
    return listed[0] if len(listed) == 1 else "one of " + ", ".join(listed)
