"""Hypothesis strategies over a small vocabulary, so random capabilities and requirements
collide often enough for fits, misses and comparisons to all be exercised."""

from __future__ import annotations

from hypothesis import strategies as st

from nunet.capability import (
    BENCHMARK_FIELDS,
    GPU_VENDORS,
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

GIB = 1 << 30
VRAMS = [8 * GIB, 16 * GIB, 24 * GIB, 40 * GIB, 80 * GIB]
MODELS = ["A100", "H100", "T4", "RTX 4090", "MI300"]
CCS = ["", "7.5", "8.0", "8.6", "9.0"]
ARCHES = ["x86_64", "aarch64"]
OSES = ["linux", "windows"]
EXECUTORS = ["docker", "qemu", "firecracker"]
STORAGE = ["s3", "nunet", "url"]
LABELS = {"tier": ["gold", "silver"], "zone": ["a", "b"]}
LOCATIONS = [
    Location(continent="EU", country="DE", city="Berlin", asn=3320),
    Location(continent="EU", country="FR", city="Paris", asn=3215),
    Location(continent="NA", country="US", city="Ashburn", asn=14618),
    Location(),
]
RULES = [
    LocationRule(continent="EU"),
    LocationRule(continent="eu", country="de"),
    LocationRule(country="FR"),
    LocationRule(asn=14618),
    LocationRule(continent="NA", city="ashburn"),
]
PEERS = ["did:key:alice", "did:key:bob", "did:key:carol"]
CORES = st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
SIZES = st.sampled_from([0, GIB, 4 * GIB, 16 * GIB, 64 * GIB])


@st.composite
def gpus(draw: st.DrawFn, max_size: int = 4) -> tuple[Gpu, ...]:
    count = draw(st.integers(0, max_size))
    return tuple(
        Gpu(
            index=i,
            vendor=draw(st.sampled_from(GPU_VENDORS[:2])),
            model=draw(st.sampled_from(MODELS)),
            vram=draw(st.sampled_from(VRAMS)),
            compute_capability=draw(st.sampled_from(CCS)),
        )
        for i in range(count)
    )


gpu_needs = st.builds(
    GpuNeed,
    vram=st.sampled_from([0, *VRAMS]),
    vendor=st.sampled_from(["", *GPU_VENDORS[:2]]),
    model=st.sampled_from(["", "a100", "H1", "RTX"]),
    compute_capability=st.sampled_from(CCS),
)

resources = st.builds(Resources, cpu=CORES, ram=SIZES, disk=SIZES, gpus=gpus())
prices = st.builds(
    Price,
    currency=st.sampled_from(["NTX", "USDC"]),
    cpu=st.sampled_from([0.0, 0.1, 0.5]),
    ram=st.sampled_from([0.0, 0.01, 0.05]),
    disk=st.sampled_from([0.0, 0.001]),
    gpu=st.sampled_from([0.0, 1.0, 2.5]),
    per_job=st.sampled_from([0.0, 1.0]),
)
benchmarks = st.builds(
    Benchmarks,
    **{name: st.sampled_from([0.0, 100.0, 1000.0]) for name in BENCHMARK_FIELDS},
    network_rtt=st.sampled_from([0.0, 0.01, 0.2]),
)


def _subset(items: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(items), unique=True, max_size=len(items)).map(tuple)


labels = st.dictionaries(
    st.sampled_from(list(LABELS)), st.sampled_from(["gold", "silver", "a", "b"]), max_size=2
)

capabilities = st.builds(
    Capability,
    resources=resources,
    cpu=st.builds(CpuInfo, architecture=st.sampled_from(["x86_64", "amd64", "aarch64"])),
    os=st.sampled_from(OSES),
    executors=_subset(EXECUTORS),
    storage=_subset(STORAGE),
    network=st.builds(
        NetworkInfo,
        public_ports=st.lists(st.integers(8000, 8003), max_size=3).map(tuple),
        bandwidth=st.sampled_from([0, 10**8, 10**9]),
    ),
    location=st.sampled_from(LOCATIONS),
    price=prices,
    labels=labels,
    benchmarks=benchmarks,
)

preferences = st.builds(
    Preference,
    dimension=st.sampled_from(
        [
            "price",
            "cpu",
            "ram",
            "disk",
            "gpus",
            "vram",
            "bandwidth",
            *BENCHMARK_FIELDS,
            "network_rtt",
            "location.country=DE",
            "location.asn=AS3320",
            "label.tier=gold",
            "executor=docker",
        ]
    ),
    weight=st.sampled_from([0.5, 1.0, 3.0]),
)

requirements = st.builds(
    Requirement,
    cpu=CORES,
    ram=SIZES,
    disk=SIZES,
    gpus=st.lists(gpu_needs, max_size=3).map(tuple),
    architectures=_subset(ARCHES),
    os=_subset(OSES),
    executors=_subset(EXECUTORS),
    storage=_subset(STORAGE),
    bandwidth=st.sampled_from([0, 10**8, 10**9]),
    public_ports=st.integers(0, 3),
    labels=labels,
    benchmarks=st.dictionaries(
        st.sampled_from(BENCHMARK_FIELDS), st.sampled_from([0.0, 100.0, 500.0]), max_size=3
    ),
    max_price=st.none() | prices,
    accept_locations=st.lists(st.sampled_from(RULES), max_size=2, unique=True).map(tuple),
    reject_locations=st.lists(st.sampled_from(RULES), max_size=1).map(tuple),
    accept_peers=_subset(PEERS[:2]),
    reject_peers=_subset(PEERS[2:]),
    prefer=st.lists(preferences, max_size=4).map(tuple),
)
