"""The partial order between capabilities, and its link to fit: better never fits less."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import (
    BENCHMARK_FIELDS,
    DIMENSIONS,
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    NetworkInfo,
    Order,
    Price,
    Requirement,
    Resources,
    check,
    combine,
    compare,
)
from tests.capability.strategies import GIB, MODELS, capabilities, requirements

BETTER, EQUAL, WORSE, INCOMPARABLE = Order.BETTER, Order.EQUAL, Order.WORSE, Order.INCOMPARABLE
MIRROR = {BETTER: WORSE, WORSE: BETTER, EQUAL: EQUAL, INCOMPARABLE: INCOMPARABLE}
AT_LEAST = {BETTER, EQUAL}
# Dimensions where more is never worse for fitting a requirement: `improve` only raises these.
MONOTONE = (
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
)


def _combine_by_counting(orders: tuple[Order, ...]) -> Order:
    better, worse = orders.count(BETTER), orders.count(WORSE)
    if orders.count(INCOMPARABLE) or (better and worse):
        return INCOMPARABLE
    return BETTER if better else WORSE if worse else EQUAL


@pytest.mark.parametrize(
    "orders", [o for n in range(4) for o in itertools.product(Order, repeat=n)]
)
def test_combine_agrees_with_its_definition_on_every_mix(orders: tuple[Order, ...]) -> None:
    assert combine(orders) == _combine_by_counting(orders)


def test_combine_examples() -> None:
    assert combine([]) == EQUAL
    assert combine([EQUAL, BETTER, EQUAL]) == BETTER
    assert combine([WORSE, EQUAL]) == WORSE
    assert combine([BETTER, WORSE]) == INCOMPARABLE
    assert combine(iter([BETTER, INCOMPARABLE])) == INCOMPARABLE


def _node(**changes: object) -> Capability:
    base = Capability(
        resources=Resources(cpu=4, ram=8 * GIB, disk=10 * GIB),
        executors=("docker",),
        storage=("s3",),
        network=NetworkInfo(public_ports=(80,), bandwidth=10**8),
        benchmarks=Benchmarks(cpu_multi=100.0, network_rtt=0.02),
        price=Price(cpu=0.1, gpu=1),
    )
    return msgspec.structs.replace(base, **changes)


def _gpu(
    vram: int, vendor: str = "nvidia", model: str = "A100", cc: str = "8.0", index: int = 0
) -> Gpu:
    return Gpu(index=index, vendor=vendor, model=model, vram=vram * GIB, compute_capability=cc)


@pytest.mark.parametrize(
    ("dimension", "a", "b", "order"),
    [
        ("cpu", _node(resources=Resources(cpu=8)), _node(resources=Resources(cpu=4)), BETTER),
        ("ram", _node(resources=Resources(ram=1)), _node(resources=Resources(ram=2)), WORSE),
        ("disk", _node(), _node(), EQUAL),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80),))),
            _node(resources=Resources(gpus=(_gpu(40),))),
            BETTER,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80), _gpu(16)))),
            _node(resources=Resources(gpus=(_gpu(80),))),
            BETTER,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80),))),
            _node(resources=Resources(gpus=(_gpu(16), _gpu(16)))),
            INCOMPARABLE,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80, "amd"),))),
            _node(resources=Resources(gpus=(_gpu(16),))),
            INCOMPARABLE,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80, model="H100"),))),
            _node(resources=Resources(gpus=(_gpu(40),))),
            INCOMPARABLE,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80, model="A100 SXM"),))),
            _node(resources=Resources(gpus=(_gpu(80),))),
            BETTER,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(80, cc="9.0"),))),
            _node(resources=Resources(gpus=(_gpu(80),))),
            BETTER,
        ),
        (
            "gpus",
            _node(resources=Resources(gpus=(_gpu(8, index=1), _gpu(16)))),
            _node(resources=Resources(gpus=(_gpu(16, index=3), _gpu(8)))),
            EQUAL,
        ),
        ("executors", _node(executors=("docker", "qemu")), _node(executors=("docker",)), BETTER),
        ("executors", _node(executors=("Docker",)), _node(executors=("docker",)), EQUAL),
        ("storage", _node(storage=("s3",)), _node(storage=("nunet",)), INCOMPARABLE),
        (
            "bandwidth",
            _node(network=NetworkInfo(bandwidth=1)),
            _node(network=NetworkInfo(bandwidth=2)),
            WORSE,
        ),
        (
            "public_ports",
            _node(network=NetworkInfo(public_ports=(1, 1))),
            _node(network=NetworkInfo(public_ports=(2,))),
            EQUAL,
        ),
        ("cpu_multi", _node(benchmarks=Benchmarks(cpu_multi=200)), _node(), BETTER),
        ("network_rtt", _node(benchmarks=Benchmarks(network_rtt=0.01)), _node(), BETTER),
        ("network_rtt", _node(benchmarks=Benchmarks(network_rtt=0)), _node(), INCOMPARABLE),
        ("network_rtt", _node(benchmarks=Benchmarks()), _node(benchmarks=Benchmarks()), EQUAL),
        ("price", _node(price=Price(cpu=0.05, gpu=1)), _node(), BETTER),
        ("price", _node(price=Price(cpu=0.05, gpu=2)), _node(), INCOMPARABLE),
        ("price", _node(price=Price(currency="USDC", cpu=0.1, gpu=1)), _node(), INCOMPARABLE),
        ("price", _node(price=Price(currency="ntx", cpu=0.1, gpu=1)), _node(), EQUAL),
        (
            "location",
            _node(location=Location(country="DE")),
            _node(location=Location(country="de")),
            EQUAL,
        ),
        ("location", _node(location=Location(country="DE")), _node(), INCOMPARABLE),
        ("labels", _node(labels={"a": "1"}), _node(), INCOMPARABLE),
        (
            "architecture",
            _node(cpu=CpuInfo(architecture="amd64")),
            _node(cpu=CpuInfo(architecture="x86_64")),
            EQUAL,
        ),
        (
            "architecture",
            _node(cpu=CpuInfo(architecture="aarch64")),
            _node(cpu=CpuInfo(architecture="x86_64")),
            INCOMPARABLE,
        ),
        ("os", _node(os="Linux"), _node(os="linux"), EQUAL),
        ("os", _node(os="windows"), _node(os="linux"), INCOMPARABLE),
    ],
)
def test_each_dimension_orders_as_documented(
    dimension: str, a: Capability, b: Capability, order: Order
) -> None:
    assert compare(a, b).dimensions[dimension] == order


def test_overall_combines_the_dimensions() -> None:
    more = _node(resources=Resources(cpu=8, ram=8 * GIB, disk=10 * GIB))
    assert compare(more, _node()).overall == BETTER
    assert compare(_node(), more).overall == WORSE
    elsewhere = msgspec.structs.replace(more, location=Location(continent="EU"))
    assert compare(elsewhere, _node()).overall == INCOMPARABLE
    assert list(compare(more, _node()).dimensions) == list(DIMENSIONS)


@given(capabilities)
def test_every_capability_equals_itself(a: Capability) -> None:
    comparison = compare(a, a)
    assert comparison.overall == EQUAL
    assert set(comparison.dimensions.values()) == {EQUAL}


@given(capabilities, capabilities)
def test_comparing_the_other_way_mirrors_every_dimension(a: Capability, b: Capability) -> None:
    ab, ba = compare(a, b), compare(b, a)
    assert {d: MIRROR[o] for d, o in ab.dimensions.items()} == ba.dimensions
    assert MIRROR[ab.overall] == ba.overall


@st.composite
def improved(draw: st.DrawFn, b: Capability) -> Capability:
    """A capability at least as good as `b` on the MONOTONE dimensions and equal elsewhere."""
    more = st.sampled_from([0, 0, 1, 2])
    gpus = []
    for gpu in b.resources.gpus:
        gpus.append(
            msgspec.structs.replace(
                gpu,
                vram=gpu.vram + draw(more) * 8 * GIB,
                model=gpu.model + draw(st.sampled_from(["", " SXM"])),
                compute_capability=draw(st.sampled_from([gpu.compute_capability, "9.9"])),
            )
        )
    extra = draw(st.integers(0, 2))
    gpus += [
        Gpu(index=10 + i, vendor="nvidia", model=draw(st.sampled_from(MODELS)), vram=GIB)
        for i in range(extra)
    ]
    resources = Resources(
        cpu=b.resources.cpu + draw(more),
        ram=b.resources.ram + draw(more) * GIB,
        disk=b.resources.disk + draw(more) * GIB,
        gpus=tuple(draw(st.permutations(gpus))),
    )
    benchmarks = msgspec.structs.replace(
        b.benchmarks,
        **{name: getattr(b.benchmarks, name) + draw(more) * 50 for name in BENCHMARK_FIELDS},
        network_rtt=b.benchmarks.network_rtt / draw(st.sampled_from([1, 2])),
    )
    price = msgspec.structs.replace(
        b.price,
        **{
            f: getattr(b.price, f) / draw(st.sampled_from([1, 2]))
            for f in ("cpu", "ram", "disk", "gpu", "per_job")
        },
    )
    return msgspec.structs.replace(
        b,
        resources=resources,
        executors=b.executors + draw(st.sampled_from([(), ("wasm",)])),
        storage=b.storage + draw(st.sampled_from([(), ("ipfs",)])),
        network=NetworkInfo(
            public_ports=b.network.public_ports + draw(st.sampled_from([(), (9000,)])),
            bandwidth=b.network.bandwidth + draw(more) * 10**6,
        ),
        benchmarks=benchmarks,
        price=price,
    )


@given(st.data(), capabilities)
def test_better_is_transitive(data: st.DataObject, c: Capability) -> None:
    b = data.draw(improved(c))
    a = data.draw(improved(b))
    ab, bc, ac = compare(a, b), compare(b, c), compare(a, c)
    for dimension in DIMENSIONS:
        if ab.dimensions[dimension] in AT_LEAST and bc.dimensions[dimension] in AT_LEAST:
            expected = (
                BETTER if BETTER in (ab.dimensions[dimension], bc.dimensions[dimension]) else EQUAL
            )
            assert ac.dimensions[dimension] == expected, dimension
    if ab.overall == BETTER and bc.overall == BETTER:
        assert ac.overall == BETTER


@given(
    st.data(), capabilities, requirements, st.sampled_from(["", "did:key:alice", "did:key:carol"])
)
def test_a_capability_at_least_as_good_misses_no_constraint_the_other_meets(
    data: st.DataObject, b: Capability, requirement: Requirement, did: str
) -> None:
    a = data.draw(improved(b))
    comparison = compare(a, b)
    assert all(comparison.dimensions[d] in AT_LEAST for d in MONOTONE)
    assert all(comparison.dimensions[d] == EQUAL for d in DIMENSIONS if d not in MONOTONE)
    missed_by_a = {u.constraint for u in check(a, a.resources, requirement, did=did).unmet}
    missed_by_b = {u.constraint for u in check(b, b.resources, requirement, did=did).unmet}
    assert missed_by_a <= missed_by_b
    assert not (
        check(b, b.resources, requirement, did=did).ok
        and not check(a, a.resources, requirement, did=did).ok
    )


@given(st.data(), capabilities)
def test_whatever_fits_a_node_exactly_fits_every_better_node(
    data: st.DataObject, b: Capability
) -> None:
    # The tightest requirement b meets: all of its own resources, devices, sets and scores.
    exact = Requirement(
        cpu=b.resources.cpu,
        ram=b.resources.ram,
        disk=b.resources.disk,
        gpus=tuple(
            GpuNeed(
                vram=g.vram, vendor=g.vendor, model=g.model, compute_capability=g.compute_capability
            )
            for g in b.resources.gpus
        ),
        executors=b.executors,
        storage=b.storage,
        bandwidth=b.network.bandwidth,
        public_ports=len(set(b.network.public_ports)),
        labels=b.labels,
        benchmarks={name: getattr(b.benchmarks, name) for name in BENCHMARK_FIELDS},
        max_price=b.price,
    )
    assert check(b, b.resources, exact).ok
    a = data.draw(improved(b))
    assert check(a, a.resources, exact).ok
