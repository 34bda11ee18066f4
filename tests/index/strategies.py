"""Hypothesis strategies: swarms of capability entries and requirements drawn from small
vocabularies (so that they overlap often), with spelling variants the semantics must fold
(case, architecture aliases) and values that make an entry irregular (huge ints, >8 GPUs)."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from nunet.capability import (
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    LocationRule,
    NetworkInfo,
    Preference,
    Price,
    Requirement,
    Resources,
)

T = TypeVar("T")
GIB = 1 << 30
HUGE = (1 << 60) + 1  # beyond what columns compare and score exactly: an irregular entry

architectures = st.sampled_from(["x86_64", "amd64", "AARCH64", "arm64", " x86_64 ", "riscv64", ""])
oses = st.sampled_from(["linux", "Linux", "windows", ""])
executors = st.sampled_from(["docker", "Docker", "qemu", "firecracker"])
storages = st.sampled_from(["s3", "nunet", "URL"])
label_keys = st.sampled_from(["zone", "tier"])
label_values = st.sampled_from(["a", "b", "A"])
continents = st.sampled_from(["EU", "eu", "NA", ""])
countries = st.sampled_from(["DE", "de", "US", ""])
cities = st.sampled_from(["Berlin", "berlin", "Austin", ""])
asns = st.sampled_from([0, 3320, 7018])
currencies = st.sampled_from(["NTX", "ntx", "USD"])
prices = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])
sizes = st.sampled_from([0, 1, 4, 8, 16, 64]).map(lambda n: n * GIB)
cores = st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
vendors = st.sampled_from(["nvidia", "NVIDIA", "amd"])
models = st.sampled_from(["A100", "RTX 4090", "a100-sxm", ""])
compute = st.sampled_from(["8.0", "9.0", "8.6", "10.0", "", "x"])
vrams = st.sampled_from([8, 16, 24, 40, 80]).map(lambda n: n * GIB)
benchmark_values = st.sampled_from([0.0, 1e6, 5e6, 2e7])
rtts = st.sampled_from([0.0, 0.01, 0.2])
bandwidths = st.sampled_from([0, 10**8, 10**9])
dids = st.sampled_from(["A", "B", "C", "D", "E", "F", "G", "H", "é", "Z" * 60, "é" * 200]).map(
    lambda suffix: f"did:key:z6Mk{suffix}"
)


def rarely_huge(usual: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """Mostly `usual`, now and then a value that makes the entry irregular."""
    return st.integers(0, 15).flatmap(lambda n: st.just(HUGE) if n == 0 else usual)


@st.composite
def gpus(draw: st.DrawFn, *, most: int = 4) -> tuple[Gpu, ...]:
    count = draw(st.integers(0, most))
    return tuple(
        Gpu(
            index=i,
            vendor=draw(vendors),
            model=draw(models),
            vram=draw(rarely_huge(vrams)),
            compute_capability=draw(compute),
        )
        for i in range(count)
    )


@st.composite
def capabilities(draw: st.DrawFn) -> Capability:
    devices = draw(st.one_of(gpus(), gpus(), gpus(), gpus(most=10)))
    return Capability(
        resources=Resources(cpu=draw(cores), ram=draw(sizes), disk=draw(sizes), gpus=devices),
        cpu=CpuInfo(architecture=draw(architectures)),
        os=draw(oses),
        executors=tuple(draw(st.lists(executors, max_size=3))),
        storage=tuple(draw(st.lists(storages, max_size=2))),
        network=NetworkInfo(
            public_ports=tuple(draw(st.lists(st.integers(1000, 1003), max_size=4))),
            bandwidth=draw(rarely_huge(bandwidths)),
        ),
        location=Location(
            continent=draw(continents), country=draw(countries), city=draw(cities), asn=draw(asns)
        ),
        price=Price(
            currency=draw(currencies),
            cpu=draw(prices),
            ram=draw(prices),
            disk=draw(prices),
            gpu=draw(prices),
            per_job=draw(prices),
        ),
        labels=draw(st.dictionaries(label_keys, label_values, max_size=2)),
        benchmarks=Benchmarks(
            cpu_single=draw(benchmark_values),
            cpu_multi=draw(benchmark_values),
            gpu_flops=draw(benchmark_values),
            network_rtt=draw(rtts),
        ),
    )


@st.composite
def free_of(draw: st.DrawFn, capability: Capability) -> Resources:
    devices = capability.resources.gpus
    kept = draw(st.lists(st.sampled_from(devices), unique=True)) if devices else []
    return Resources(
        cpu=draw(cores),
        ram=draw(rarely_huge(sizes)),
        disk=draw(sizes),
        gpus=tuple(kept),
    )


@st.composite
def entries(draw: st.DrawFn) -> tuple[str, Capability, Resources]:
    capability = draw(capabilities())
    return draw(dids), capability, draw(free_of(capability))


@st.composite
def location_rules(draw: st.DrawFn) -> LocationRule:
    return LocationRule(
        continent=draw(continents), country=draw(countries), city=draw(cities), asn=draw(asns)
    )


preference_dimensions = st.sampled_from(
    [
        "price",
        "cpu",
        "ram",
        "disk",
        "gpus",
        "vram",
        "bandwidth",
        "cpu_single",
        "cpu_multi",
        "gpu_flops",
        "network_rtt",
        "location.country=de",
        "location.asn=AS3320",
        "location.asn=7018",
        "location.city=",
        "label.zone=a",
        "label.tier=b",
        "executor=docker",
        "executor=QEMU",
        "unknown",
    ]
)


def sometimes(strategy: st.SearchStrategy[T], nothing: T) -> st.SearchStrategy[T]:
    """Usually nothing asked, so that most entries reach the later constraints too."""
    return st.one_of(st.just(nothing), st.just(nothing), st.just(nothing), strategy)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    need = st.builds(
        GpuNeed,
        vram=st.one_of(st.just(0), vrams),
        vendor=st.sampled_from(["", "nvidia", "AMD"]),
        model=st.sampled_from(["", "a100", "4090"]),
        compute_capability=st.sampled_from(["", "8.0", "9.0"]),
    )
    price = st.builds(
        Price, currency=currencies, cpu=prices, ram=prices, disk=prices, gpu=prices, per_job=prices
    )
    preference = st.builds(
        Preference, dimension=preference_dimensions, weight=st.sampled_from([0.5, 1.0, 3.0])
    )

    def some(strategy: st.SearchStrategy[T], nothing: T) -> T:
        return draw(sometimes(strategy, nothing))

    return Requirement(
        cpu=some(cores, 0.0),
        ram=some(sizes, 0),
        disk=some(sizes, 0),
        gpus=some(st.lists(need, min_size=1, max_size=4).map(tuple), ()),
        architectures=some(st.lists(architectures, min_size=1, max_size=2).map(tuple), ()),
        os=some(st.lists(oses, min_size=1, max_size=2).map(tuple), ()),
        executors=some(st.lists(executors, min_size=1, max_size=2).map(tuple), ()),
        storage=some(st.lists(storages, min_size=1, max_size=1).map(tuple), ()),
        bandwidth=some(bandwidths, 0),
        public_ports=some(st.integers(1, 3), 0),
        labels=some(st.dictionaries(label_keys, label_values, min_size=1, max_size=1), {}),
        benchmarks=some(
            st.dictionaries(
                st.sampled_from(["cpu_single", "gpu_flops", "network_rtt"]),
                benchmark_values,
                min_size=1,
                max_size=1,
            ),
            {},
        ),
        max_price=some(price, None),
        accept_locations=some(st.lists(location_rules(), min_size=1, max_size=2).map(tuple), ()),
        reject_locations=some(st.lists(location_rules(), min_size=1, max_size=1).map(tuple), ()),
        accept_peers=some(st.lists(dids, min_size=1, max_size=6).map(tuple), ()),
        reject_peers=some(st.lists(dids, min_size=1, max_size=2).map(tuple), ()),
        prefer=draw(st.lists(preference, max_size=3).map(tuple)),
    )


@st.composite
def rank_requirements(draw: st.DrawFn) -> Requirement:
    """Small asks and preferences only: most entries fit, so the rank decides."""
    preference = st.builds(
        Preference, dimension=preference_dimensions, weight=st.sampled_from([0.5, 1.0, 3.0])
    )
    return Requirement(
        cpu=draw(st.sampled_from([0.0, 0.0, 0.5, 1.0])),
        ram=draw(st.sampled_from([0, 0, GIB])),
        disk=draw(st.sampled_from([0, GIB])),
        gpus=draw(st.sampled_from([(), (), (GpuNeed(),)])),
        prefer=tuple(draw(st.lists(preference, max_size=3))),
    )
