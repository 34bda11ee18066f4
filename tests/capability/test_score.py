"""Preference scores: bounded, neutral without preferences, and moving the right way."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import (
    PREFERENCE_DIMENSIONS,
    Benchmarks,
    Capability,
    Gpu,
    GpuNeed,
    Location,
    NetworkInfo,
    Preference,
    Price,
    Requirement,
    RequirementError,
    Resources,
    hourly_cost,
    preference_score,
    validate_preference,
)
from tests.capability.strategies import GIB, capabilities, prices, requirements, resources

NODE = Capability(
    resources=Resources(cpu=8, ram=32 * GIB, disk=100 * GIB),
    executors=("docker",),
    location=Location(continent="EU", country="DE", asn=3320),
    labels={"tier": "gold"},
    price=Price(cpu=0.1, ram=0.05, disk=0.01, gpu=2.0, per_job=5.0),
)
FREE = NODE.resources


def _score(
    dimension: str, *, capability: Capability = NODE, free: Resources = FREE, **asked: object
) -> float:
    requirement = msgspec.structs.replace(
        Requirement(prefer=(Preference(dimension=dimension),)), **asked
    )
    return preference_score(capability, free, requirement)


def test_hourly_cost_sums_each_resource_at_its_price_without_the_per_job_charge() -> None:
    two_gpus = (Gpu(index=0, vendor="nvidia", model="T4", vram=GIB),) * 2
    asked = Resources(cpu=2, ram=4 * GIB, disk=10 * GIB, gpus=two_gpus)
    assert hourly_cost(NODE.price, asked) == pytest.approx(0.2 + 0.2 + 0.1 + 4.0)
    assert hourly_cost(NODE.price, Resources()) == 0


def test_no_preferences_is_neutral() -> None:
    assert preference_score(NODE, FREE, Requirement()) == 0.5


@given(capabilities, resources, requirements)
def test_every_score_is_between_zero_and_one(
    capability: Capability, free: Resources, requirement: Requirement
) -> None:
    assert 0.0 <= preference_score(capability, free, requirement) <= 1.0


@given(prices, prices, requirements)
def test_a_node_cheaper_on_every_field_scores_at_least_as_high_on_price(
    one: Price, other: Price, requirement: Requirement
) -> None:
    cheap = Price(
        **{
            f: min(getattr(one, f), getattr(other, f))
            for f in ("cpu", "ram", "disk", "gpu", "per_job")
        }
    )
    dear = Price(
        **{
            f: max(getattr(one, f), getattr(other, f))
            for f in ("cpu", "ram", "disk", "gpu", "per_job")
        }
    )
    wants = msgspec.structs.replace(requirement, prefer=(Preference(dimension="price"),))
    cheap_score = preference_score(msgspec.structs.replace(NODE, price=cheap), FREE, wants)
    dear_score = preference_score(msgspec.structs.replace(NODE, price=dear), FREE, wants)
    assert cheap_score >= dear_score
    asked = (requirement.cpu, requirement.ram, requirement.disk, len(requirement.gpus))
    cost = [
        p.cpu * asked[0] + p.ram * asked[1] / GIB + p.disk * asked[2] / GIB + p.gpu * asked[3]
        for p in (cheap, dear)
    ]
    if cost[0] < cost[1]:
        assert cheap_score > dear_score


def test_price_maps_the_hourly_cost_of_what_is_asked() -> None:
    assert _score("price", cpu=2, ram=4 * GIB) == pytest.approx(1 / (1 + 0.2 + 0.2))
    assert _score("price") == 1.0  # nothing asked costs nothing


@pytest.mark.parametrize(
    ("dimension", "low", "high", "asked"),
    [
        ("cpu", Resources(cpu=1), Resources(cpu=4), {"cpu": 2.0}),
        ("ram", Resources(ram=GIB), Resources(ram=8 * GIB), {}),
        ("disk", Resources(disk=GIB), Resources(disk=8 * GIB), {"disk": GIB}),
        (
            "gpus",
            Resources(),
            Resources(gpus=(Gpu(index=0, vendor="amd", model="x", vram=GIB),)),
            {},
        ),
        (
            "vram",
            Resources(gpus=(Gpu(index=0, vendor="amd", model="x", vram=8 * GIB),)),
            Resources(gpus=(Gpu(index=0, vendor="amd", model="x", vram=80 * GIB),)),
            {"gpus": (GpuNeed(vram=8 * GIB),)},
        ),
    ],
)
def test_more_free_scores_higher(
    dimension: str, low: Resources, high: Resources, asked: dict[str, object]
) -> None:
    requirement = Requirement(prefer=(Preference(dimension=dimension),), **asked)  # type: ignore[arg-type]
    assert preference_score(NODE, low, requirement) < preference_score(NODE, high, requirement)


def test_free_exactly_the_asked_amount_scores_half() -> None:
    assert _score("cpu", free=Resources(cpu=2), cpu=2.0) == 0.5
    assert _score("ram", free=Resources(), ram=GIB) == 0.0


def test_bandwidth_and_benchmarks_score_higher_when_higher() -> None:
    slow = msgspec.structs.replace(
        NODE, network=NetworkInfo(bandwidth=10**7), benchmarks=Benchmarks(cpu_multi=10)
    )
    fast = msgspec.structs.replace(
        NODE, network=NetworkInfo(bandwidth=10**9), benchmarks=Benchmarks(cpu_multi=10**8)
    )
    assert _score("bandwidth", capability=slow) < _score("bandwidth", capability=fast)
    assert _score("cpu_multi", capability=slow) < _score("cpu_multi", capability=fast)
    assert _score("cpu_multi", capability=fast, benchmarks={"cpu_multi": 10.0**8}) == 0.5


def test_a_lower_round_trip_time_scores_higher_and_unmeasured_is_neutral() -> None:
    near = msgspec.structs.replace(NODE, benchmarks=Benchmarks(network_rtt=0.005))
    far = msgspec.structs.replace(NODE, benchmarks=Benchmarks(network_rtt=0.5))
    assert _score("network_rtt", capability=far) < _score("network_rtt", capability=near)
    assert _score("network_rtt") == 0.5


@pytest.mark.parametrize(
    ("dimension", "score"),
    [
        ("executor=docker", 1.0),
        ("executor=DOCKER", 1.0),
        ("executor=qemu", 0.0),
        ("label.tier=gold", 1.0),
        ("label.tier=silver", 0.0),
        ("label.zone=a", 0.0),
        ("location.country=de", 1.0),
        ("location.continent=NA", 0.0),
        ("location.asn=3320", 1.0),
        ("location.asn=AS3320", 1.0),
        ("location.city=Berlin", 0.0),
    ],
)
def test_named_preferences_score_one_or_zero(dimension: str, score: float) -> None:
    assert _score(dimension) == score


def test_the_score_is_the_weighted_mean() -> None:
    requirement = Requirement(
        prefer=(
            Preference(dimension="executor=docker", weight=3),
            Preference(dimension="executor=qemu", weight=1),
        )
    )
    assert preference_score(NODE, FREE, requirement) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "dimension",
    [
        *PREFERENCE_DIMENSIONS,
        "location.city=Berlin",
        "location.asn=AS1",
        "label.k=v",
        "executor=qemu",
    ],
)
def test_known_preference_dimensions_pass_validation(dimension: str) -> None:
    validate_preference(dimension, "prefer[0]")


@pytest.mark.parametrize(
    "dimension",
    [
        "",
        "speed",
        "location.planet=Mars",
        "location.country",
        "label.=x",
        "label.k",
        "executor",
        "executor=",
        "Price",
    ],
)
def test_unknown_preference_dimensions_are_refused_naming_the_field(dimension: str) -> None:
    with pytest.raises(RequirementError, match=r"^requirement\.prefer\[2\]\.dimension: "):
        validate_preference(dimension, "requirement.prefer[2].dimension")


@given(st.sampled_from(PREFERENCE_DIMENSIONS), capabilities, resources)
def test_every_plain_dimension_scores_within_bounds(
    dimension: str, capability: Capability, free: Resources
) -> None:
    assert 0.0 <= _score(dimension, capability=capability, free=free) <= 1.0
