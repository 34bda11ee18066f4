"""The index's answers are exactly `check`'s verdicts, first-unmet counts and the scalar rank."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.capability import (
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
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
from tests.index.strategies import GIB, entries, requirements

OBSERVER = "did:key:z6MkObserver"


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
