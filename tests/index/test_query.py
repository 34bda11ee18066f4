"""The index's answers are exactly `check`'s verdicts, first-unmet counts and the scalar rank."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.capability import (
    PREFERENCE_DIMENSIONS,
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    NetworkInfo,
    Preference,
    Price,
    Requirement,
    Resources,
    assign_gpus,
)
from nunet.index import CapabilityIndex, InvalidQuery
from nunet.onboarding.events import CapabilityAnnounced
from nunet.peers import PeerDown
from tests.index.reference import assert_answers_as_check
from tests.index.strategies import GIB, entries, rank_requirements, requirements

OBSERVER = "did:key:z6MkObserver"
PREFERENCE_DIMENSIONS_TESTED = [
    *PREFERENCE_DIMENSIONS,
    "location.country=de",
    "location.asn=AS3320",
    "label.zone=a",
    "executor=QEMU",
    "unknown",
]


def index_of(
    swarm: list[tuple[str, Capability, Resources]],
    down: set[str] = frozenset(),  # type: ignore[assignment]
) -> CapabilityIndex:
    index = CapabilityIndex()
    for at, (did, capability, free) in enumerate(swarm, start=1):
        index.apply(did, CapabilityAnnounced(capability=capability, free=free), at)
    for did in down:
        index.apply(OBSERVER, PeerDown(did=did, missed=2, silent_seconds=1.0), 10_000)
    return index


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    swarm=st.lists(entries(), max_size=12),
    requirement=requirements(),
    limit=st.integers(0, 4),
    down=st.sets(st.sampled_from(["did:key:z6MkA", "did:key:z6MkB", "did:key:z6MkQ"])),
)
def test_answers_are_exactly_checks_verdicts_counts_and_rank(
    swarm: list[tuple[str, Capability, Resources]],
    requirement: Requirement,
    limit: int,
    down: set[str],
) -> None:
    index = index_of(swarm, down)
    assert_answers_as_check(index, requirement, limit)
    assert_answers_as_check(index, requirement, len(index))  # every fitting entry, in order


@settings(max_examples=150, deadline=None)
@given(swarm=st.lists(entries(), min_size=1, max_size=12), requirement=requirements())
def test_the_columnar_path_agrees_with_itself_when_many_nodes_compete_for_few_places(
    swarm: list[tuple[str, Capability, Resources]], requirement: Requirement
) -> None:
    # many copies of the same machines under distinct DIDs: ties that only the DID breaks
    index = CapabilityIndex()
    at = 0
    for copy in range(40):
        for did, capability, free in swarm:
            at += 1
            index.apply(
                f"{did}-{copy:02d}", CapabilityAnnounced(capability=capability, free=free), at
            )
    assert_answers_as_check(index, requirement, 3)


@settings(max_examples=200, deadline=None)
@given(
    swarm=st.lists(entries(), min_size=1, max_size=10),
    copies=st.integers(1, 4),
    requirement=rank_requirements(),
    limit=st.integers(1, 5),
)
def test_the_vectorised_rank_picks_the_entries_the_scalar_rank_puts_first(
    swarm: list[tuple[str, Capability, Resources]],
    copies: int,
    requirement: Requirement,
    limit: int,
) -> None:
    # most entries fit these requirements, so the top `limit` is chosen by the vectorised keys
    index = CapabilityIndex()
    for at, (did, capability, free) in enumerate(swarm * copies):
        copy = at // len(swarm)
        index.apply(f"{did}-{copy}", CapabilityAnnounced(capability=capability, free=free), at)
    assert_answers_as_check(index, requirement, limit)


def varied_swarm(count: int, seed: int) -> list[tuple[str, Capability, Resources]]:
    """Entries differing in every ranked dimension (fixed seed: the same swarm every run)."""
    rng = random.Random(seed)
    swarm = []
    for n in range(count):
        devices = tuple(gpu(i, rng.choice([8, 24, 80])) for i in range(rng.randint(0, 3)))
        capability = Capability(
            resources=Resources(cpu=8.0, ram=64 * GIB, disk=500 * GIB, gpus=devices),
            executors=tuple(rng.sample(["docker", "qemu"], rng.randint(0, 2))),
            network=NetworkInfo(bandwidth=rng.choice([0, 10**8, 10**9])),
            location=Location(country=rng.choice(["DE", "US", ""]), asn=rng.choice([0, 3320])),
            price=Price(cpu=rng.choice([0.0, 0.5, 1.0]), ram=rng.choice([0.0, 0.1])),
            labels={"zone": rng.choice("ab"), "tier": rng.choice("ab")},
            benchmarks=Benchmarks(
                cpu_single=rng.choice([0.0, 1e6, 4e6]),
                cpu_multi=rng.choice([0.0, 1e7]),
                gpu_flops=rng.choice([0.0, 1e13]),
                network_rtt=rng.choice([0.0, 0.01, 0.2]),
            ),
        )
        free = Resources(
            cpu=rng.choice([1.0, 4.0, 8.0]),
            ram=rng.choice([8, 64]) * GIB,
            disk=rng.choice([50, 500]) * GIB,
            gpus=devices[: rng.randint(0, len(devices))],
        )
        swarm.append((f"did:key:z6Mk{n:03d}", capability, free))
    return swarm


@pytest.mark.parametrize("dimension", PREFERENCE_DIMENSIONS_TESTED)
def test_each_preference_dimension_ranks_as_the_scalar_score(dimension: str) -> None:
    index = index_of(varied_swarm(60, seed=len(dimension)))
    for requirement in (
        Requirement(prefer=(Preference(dimension=dimension),)),
        Requirement(cpu=1.0, ram=GIB, prefer=(Preference(dimension=dimension, weight=2.0),)),
    ):
        for limit in (1, 3, 10):
            assert_answers_as_check(index, requirement, limit)


def gpu(index: int, vram_gib: int, model: str = "A100", vendor: str = "nvidia") -> Gpu:
    return Gpu(
        index=index, vendor=vendor, model=model, vram=vram_gib * GIB, compute_capability="8.0"
    )


def test_gpu_needs_are_met_by_distinct_devices_even_where_a_greedy_choice_fails() -> None:
    # need 1 (any 16 GiB) would greedily take the 40 GiB A100 that need 2 (an A100) requires
    devices = (gpu(0, 40, "A100"), gpu(1, 16, "RTX 4090"))
    needs = (GpuNeed(vram=16 * GIB), GpuNeed(model="a100"))
    index = index_of(
        [
            (
                "did:key:z6MkFits",
                Capability(resources=Resources(gpus=devices)),
                Resources(gpus=devices),
            ),
            (
                "did:key:z6MkOneShort",
                Capability(resources=Resources(gpus=devices[:1])),
                Resources(gpus=devices[:1]),
            ),
        ]
    )
    answer = index.query(Requirement(gpus=needs))
    assert [c.did for c in answer.candidates] == ["did:key:z6MkFits"]
    assert answer.candidates[0].gpus == assign_gpus(needs, devices)
    assert answer.excluded == {"gpus": 1}
    # two devices, each adequate for some need, but only one of them for both A100 needs
    two_a100s = index.query(Requirement(gpus=(GpuNeed(model="a100"), GpuNeed(model="A100"))))
    assert (two_a100s.candidates, two_a100s.excluded) == ((), {"gpus": 2})


def test_exclusions_name_the_first_unmet_constraint_in_check_order() -> None:
    small = Capability(resources=Resources(cpu=1.0), cpu=CpuInfo(architecture="aarch64"))
    index = index_of(
        [
            ("did:key:z6MkArm", small, Resources(cpu=1.0)),  # architecture, then cpu: counted once
            ("did:key:z6MkBusy", Capability(resources=Resources(cpu=8.0)), Resources(cpu=0.5)),
            ("did:key:z6MkGone", Capability(resources=Resources(cpu=8.0)), Resources(cpu=8.0)),
            (
                "did:key:z6MkFree",
                Capability(resources=Resources(cpu=8.0), cpu=CpuInfo(architecture="x86_64")),
                Resources(cpu=8.0),
            ),
        ],
        down={"did:key:z6MkGone"},
    )
    answer = index.query(Requirement(cpu=2.0, architectures=("amd64",)))
    assert [c.did for c in answer.candidates] == ["did:key:z6MkFree"]
    assert answer.excluded == {"down": 1, "architecture": 2}
    assert (answer.considered, answer.matched) == (4, 1)


def test_default_order_is_headroom_then_cost_then_did_and_preferences_come_first() -> None:
    def node(cpu: float, price: float) -> tuple[Capability, Resources]:
        return Capability(resources=Resources(cpu=cpu), price=Price(cpu=price)), Resources(cpu=cpu)

    index = index_of(
        [
            ("did:key:z6MkB", *node(8.0, 1.0)),
            ("did:key:z6MkA", *node(8.0, 1.0)),
            ("did:key:z6MkCheap", *node(8.0, 0.5)),
            ("did:key:z6MkSmall", *node(2.0, 0.1)),
        ]
    )
    plain = index.query(Requirement(cpu=1.0))
    two = index.query(Requirement(cpu=1.0), limit=2)  # chosen among 4 by the vectorised keys
    assert [c.did for c in two.candidates] == ["did:key:z6MkCheap", "did:key:z6MkA"]
    assert [c.did for c in plain.candidates] == [
        "did:key:z6MkCheap",
        "did:key:z6MkA",
        "did:key:z6MkB",
        "did:key:z6MkSmall",
    ]
    assert {c.score for c in plain.candidates} == {0.5}
    cheap_first = index.query(Requirement(cpu=1.0, prefer=(Preference(dimension="price"),)))
    assert cheap_first.candidates[0].did == "did:key:z6MkSmall"


def test_a_requirement_its_wire_form_refuses_is_a_clear_error() -> None:
    index = CapabilityIndex()
    with pytest.raises(InvalidQuery, match="cpu"):
        index.query(Requirement(cpu=-1.0))
    with pytest.raises(InvalidQuery, match="limit"):
        index.query(Requirement(), limit=-1)
