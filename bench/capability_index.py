"""Capability index: filter + rank over 100,000 node entries for a requirement, p50/p99 latency;
and the cost of applying one event at 10,000 vs 100,000 entries (it should not grow).

Entries are random but realistic: a catalogue of CPU and GPU machine types, 20 countries,
executors, labels, prices and benchmark figures; what is free is a random share of each.
Requirements: CPU/RAM asks, with and without GPU needs, executors, countries, labels, price caps
and preferences.

Peer: a plain Python linear scan over the same entries (a list of objects, comparisons field by
field, the fitting ones sorted for the rank), the way a naive index answers; measured on fewer
queries, and checked to give the same top 10 as the index.
Reported: p99 query latency (ms); ratio = peer p99 / ours (higher is better).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

from nunet.capability import (
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    LocationRule,
    Preference,
    Price,
    Requirement,
    Resources,
    preference_score,
)
from nunet.index import CapabilityIndex, ask_cost, headroom
from nunet.onboarding.events import Allocated, CapabilityAnnounced

ENTRIES = 100_000
SMALL = 10_000
QUERIES = 300
PEER_QUERIES = 12
UPDATES = 20_000
LIMIT = 10
GIB = 1 << 30
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
COUNTRIES = {
    "EU": ["DE", "FR", "NL", "PL", "ES", "IT", "SE"],
    "NA": ["US", "CA", "MX"],
    "AS": ["JP", "SG", "IN", "KR"],
    "SA": ["BR", "AR"],
    "AF": ["ZA", "KE", "NG"],
    "OC": ["AU"],
}
# (cores, ram GiB, disk GiB, GPUs as (model, vram GiB, count), weight)
MACHINES = [
    (4, 8, 100, None, 30),
    (8, 32, 500, None, 25),
    (16, 64, 1000, None, 15),
    (64, 256, 4000, None, 8),
    (16, 64, 1000, ("RTX 4090", 24, 1), 10),
    (32, 256, 2000, ("A100", 80, 4), 6),
    (96, 1024, 8000, ("H100", 80, 8), 3),
    (8, 32, 500, ("RTX 3060", 12, 1), 3),
]


def random_capability(rng: random.Random) -> tuple[Capability, Resources]:
    cores, ram, disk, gpus, _ = rng.choices(MACHINES, weights=[m[4] for m in MACHINES])[0]
    devices: tuple[Gpu, ...] = ()
    if gpus is not None:
        model, vram, count = gpus
        devices = tuple(
            Gpu(index=i, vendor="nvidia", model=model, vram=vram * GIB, compute_capability="8.9")
            for i in range(count)
        )
    continent = rng.choice(list(COUNTRIES))
    capability = Capability(
        resources=Resources(cpu=float(cores), ram=ram * GIB, disk=disk * GIB, gpus=devices),
        cpu=CpuInfo(architecture=rng.choices(["x86_64", "aarch64"], weights=[9, 1])[0]),
        executors=tuple(rng.sample(["docker", "qemu", "firecracker"], rng.randint(1, 3))),
        storage=tuple(rng.sample(["s3", "nunet", "url"], rng.randint(1, 2))),
        location=Location(
            continent=continent, country=rng.choice(COUNTRIES[continent]), asn=rng.randint(1, 60000)
        ),
        price=Price(
            cpu=round(rng.uniform(0.01, 0.1), 4),
            ram=round(rng.uniform(0.001, 0.01), 4),
            disk=round(rng.uniform(0.0001, 0.001), 5),
            gpu=round(rng.uniform(0.5, 3.0), 3) if devices else 0.0,
        ),
        labels={"zone": rng.choice("abcde"), "tier": rng.choice(["gold", "silver", "bronze"])},
        benchmarks=Benchmarks(
            cpu_single=rng.uniform(5e5, 2e6),
            cpu_multi=rng.uniform(1e6, 1e8),
            network_rtt=rng.uniform(0.005, 0.3),
        ),
    )
    return capability, random_free(rng, capability)


def random_free(rng: random.Random, capability: Capability) -> Resources:
    share = rng.random()
    onboarded = capability.resources
    gpus = onboarded.gpus[: rng.randint(0, len(onboarded.gpus))]
    return Resources(
        cpu=round(onboarded.cpu * share * 2) / 2,
        ram=int(onboarded.ram * share) // GIB * GIB,
        disk=int(onboarded.disk * share) // GIB * GIB,
        gpus=gpus,
    )


def random_did(rng: random.Random) -> str:
    return "did:key:z6Mk" + "".join(rng.choices(B58, k=44))


def random_requirement(rng: random.Random) -> Requirement:
    gpus: tuple[GpuNeed, ...] = ()
    if rng.random() < 0.3:
        gpus = (GpuNeed(vendor="nvidia", vram=rng.choice([8, 16, 24, 40]) * GIB),) * rng.choice(
            [1, 1, 2, 4]
        )
    continent = rng.choice(list(COUNTRIES))
    prefer: tuple[Preference, ...] = ()
    if rng.random() < 0.5:
        prefer = tuple(
            Preference(dimension=d, weight=rng.choice([1.0, 2.0]))
            for d in rng.sample(["price", "cpu", "ram", "network_rtt", "label.tier=gold"], 2)
        )
    return Requirement(
        cpu=rng.choice([0.5, 1.0, 2.0, 4.0, 8.0]),
        ram=rng.choice([1, 2, 4, 8, 16, 32]) * GIB,
        disk=rng.choice([0, 10, 50]) * GIB,
        gpus=gpus,
        architectures=("x86_64",) if rng.random() < 0.3 else (),
        executors=tuple(rng.sample(["docker", "qemu"], rng.randint(0, 1))),
        labels={"zone": rng.choice("abcde")} if rng.random() < 0.2 else {},
        max_price=Price(cpu=0.08) if rng.random() < 0.3 else None,
        accept_locations=(LocationRule(continent=continent),) if rng.random() < 0.3 else (),
        prefer=prefer,
    )


def naive_answer(swarm: list[tuple[str, Capability, Resources]], req: Requirement) -> list[str]:
    """The plain way: every entry, field by field; the fitting ones sorted."""
    fitting = []
    continents = {rule.continent.casefold() for rule in req.accept_locations}
    for did, cap, free in swarm:
        if continents and cap.location.continent.casefold() not in continents:
            continue
        if req.architectures and cap.cpu.architecture not in req.architectures:
            continue
        offered = {e.casefold() for e in cap.executors}
        if any(e.casefold() not in offered for e in req.executors):
            continue
        if any(cap.labels.get(k) != v for k, v in req.labels.items()):
            continue
        cap_price = req.max_price
        if cap_price is not None and (
            cap_price.currency.casefold() != cap.price.currency.casefold()
            or (cap_price.cpu and cap.price.cpu > cap_price.cpu)
        ):
            continue
        if free.cpu < req.cpu or free.ram < req.ram or free.disk < req.disk:
            continue
        if req.gpus:
            vrams = sorted(g.vram for g in free.gpus if g.vendor == "nvidia")
            needs = sorted((n.vram for n in req.gpus), reverse=True)
            if len(vrams) < len(needs) or any(
                v < n for v, n in zip(vrams[::-1], needs, strict=False)
            ):
                continue
        score = preference_score(cap, free, req)
        fitting.append(((-score, -headroom(free, req), ask_cost(cap.price, req), did), did))
    fitting.sort()
    return [did for _, did in fitting[:LIMIT]]


def build(
    count: int, rng: random.Random
) -> tuple[CapabilityIndex, list[tuple[str, Capability, Resources]]]:
    index = CapabilityIndex()
    swarm = []
    for at in range(count):
        did = random_did(rng)
        capability, free = random_capability(rng)
        swarm.append((did, capability, free))
        index.apply(did, CapabilityAnnounced(capability=capability, free=free), at)
    return index, swarm


def update_cost(
    index: CapabilityIndex, swarm: list[tuple[str, Capability, Resources]], rng: random.Random
) -> float:
    """µs per `resources.allocated` event applied to a random node."""
    events = []
    for i in range(UPDATES):
        did, capability, _ = rng.choice(swarm)
        free = random_free(rng, capability)
        events.append((did, Allocated(allocation=f"a{i}", resources=Resources(), free=free)))
    start = time.perf_counter()
    for at, (did, event) in enumerate(events, start=10**9):
        index.apply(did, event, at)
    return (time.perf_counter() - start) / UPDATES * 1e6


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    rng = random.Random(4)
    started = time.perf_counter()
    small_index, small_swarm = build(SMALL, rng)
    index, swarm = build(ENTRIES, rng)
    built = time.perf_counter() - started
    small_cost = update_cost(small_index, small_swarm, rng)
    large_cost = update_cost(index, swarm, rng)
    swarm = [(did, entry.capability, entry.free) for did, entry in index.entries().items()]
    requirements = [random_requirement(rng) for _ in range(QUERIES)]
    for requirement in requirements[:10]:  # warm the caches a running node would have warm
        index.query(requirement, limit=LIMIT)
    latencies = []
    matched = []
    for requirement in requirements:
        start = time.perf_counter()
        answer = index.query(requirement, limit=LIMIT)
        latencies.append((time.perf_counter() - start) * 1e3)
        matched.append(answer.matched)
    peer_latencies = []
    for requirement in requirements[:PEER_QUERIES]:
        start = time.perf_counter()
        expected = naive_answer(swarm, requirement)
        peer_latencies.append((time.perf_counter() - start) * 1e3)
        got = [c.did for c in index.query(requirement, limit=LIMIT).candidates]
        assert got == expected, f"the index and the linear scan disagree on {requirement}"
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    print(f"built {SMALL:,} + {ENTRIES:,} entries in {built:.1f} s")
    print(
        f"update cost per event: {small_cost:.1f} µs at {SMALL:,} entries, "
        f"{large_cost:.1f} µs at {ENTRIES:,} entries"
    )
    print(
        f"query over {ENTRIES:,} entries ({QUERIES} requirements, median {statistics.median(matched):,.0f}"
        f" fit): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms"
    )
    print(
        f"linear scan ({PEER_QUERIES} requirements): p50 {statistics.median(peer_latencies):.1f} ms,"
        f" p99 {percentile(peer_latencies, 0.99):.1f} ms; same top {LIMIT} as the index"
    )
    report(
        "capability_index_query_p99",
        p99,
        "ms",
        "python linear scan",
        percentile(peer_latencies, 0.99),
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
