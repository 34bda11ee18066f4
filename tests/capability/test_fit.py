"""Fit checks: every constraint alone and combined, every unmet one reported, with details."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import (
    CONSTRAINTS,
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    LocationRule,
    NetworkInfo,
    Price,
    Requirement,
    Resources,
    assign_gpus,
    check,
)
from tests.capability.strategies import GIB, capabilities, requirements, resources

DID = "did:key:provider"
A100 = Gpu(index=0, vendor="nvidia", model="A100", vram=80 * GIB, compute_capability="8.0")
T4 = Gpu(index=1, vendor="nvidia", model="T4", vram=16 * GIB, compute_capability="7.5")
NODE = Capability(
    resources=Resources(cpu=8, ram=32 * GIB, disk=100 * GIB, gpus=(A100, T4)),
    cpu=CpuInfo(architecture="x86_64"),
    os="linux",
    executors=("docker", "qemu"),
    storage=("s3",),
    network=NetworkInfo(public_ports=(8080, 8081), bandwidth=10**9),
    location=Location(continent="EU", country="DE", city="Berlin", asn=3320),
    price=Price(currency="NTX", cpu=0.1, ram=0.05, gpu=2.0),
    labels={"tier": "gold"},
    benchmarks=Benchmarks(cpu_multi=1000.0, gpu_flops=1e13),
)
FREE = Resources(cpu=1.5, ram=8 * GIB, disk=50 * GIB, gpus=(A100, T4))

# For each constraint: a requirement the node meets exactly at the boundary, and one it misses.
MET: dict[str, Requirement] = {
    "peer": Requirement(accept_peers=(DID,), reject_peers=("did:key:other",)),
    "location": Requirement(
        accept_locations=(LocationRule(continent="eu"),),
        reject_locations=(LocationRule(country="FR"),),
    ),
    "architecture": Requirement(architectures=("aarch64", "amd64")),
    "os": Requirement(os=("Linux",)),
    "executors": Requirement(executors=("docker", "QEMU")),
    "storage": Requirement(storage=("s3",)),
    "labels": Requirement(labels={"tier": "gold"}),
    "price": Requirement(max_price=Price(currency="ntx", cpu=0.1, gpu=2.0)),
    "bandwidth": Requirement(bandwidth=10**9),
    "public_ports": Requirement(public_ports=2),
    "benchmarks": Requirement(benchmarks={"cpu_multi": 1000.0, "gpu_flops": 1e13}),
    "cpu": Requirement(cpu=1.5),
    "ram": Requirement(ram=8 * GIB),
    "disk": Requirement(disk=50 * GIB),
    "gpus": Requirement(gpus=(GpuNeed(vram=80 * GIB), GpuNeed(vendor="nvidia"))),
}
MISSED: dict[str, Requirement] = {
    "peer": Requirement(reject_peers=(DID,)),
    "location": Requirement(accept_locations=(LocationRule(country="FR"),)),
    "architecture": Requirement(architectures=("aarch64",)),
    "os": Requirement(os=("windows",)),
    "executors": Requirement(executors=("docker", "firecracker")),
    "storage": Requirement(storage=("s3", "nunet")),
    "labels": Requirement(labels={"tier": "silver"}),
    "price": Requirement(max_price=Price(currency="NTX", gpu=1.5)),
    "bandwidth": Requirement(bandwidth=10**9 + 1),
    "public_ports": Requirement(public_ports=3),
    "benchmarks": Requirement(benchmarks={"cpu_multi": 1000.5}),
    "cpu": Requirement(cpu=2),
    "ram": Requirement(ram=8 * GIB + 1),
    "disk": Requirement(disk=51 * GIB),
    "gpus": Requirement(gpus=(GpuNeed(vram=80 * GIB), GpuNeed(vram=80 * GIB))),
}


def test_the_tables_cover_every_constraint() -> None:
    assert set(MET) == set(MISSED) == set(CONSTRAINTS)


def test_an_empty_requirement_fits_any_node() -> None:
    assert check(NODE, FREE, Requirement(), did=DID) == check(NODE, FREE, Requirement())
    assert check(NODE, Resources(), Requirement()).ok


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_each_constraint_is_met_at_its_boundary(constraint: str) -> None:
    fit = check(NODE, FREE, MET[constraint], did=DID)
    assert fit.ok, fit.unmet
    assert fit.unmet == ()


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_each_constraint_alone_is_reported_under_its_own_key(constraint: str) -> None:
    fit = check(NODE, FREE, MISSED[constraint], did=DID)
    assert not fit.ok
    assert [u.constraint for u in fit.unmet] == [constraint]
    assert fit.unmet[0].detail


def _mixed(missed: set[str]) -> Requirement:
    """MISSED's case for the constraints in `missed`, MET's for the rest, in one requirement.

    Each constraint's cases set fields no other constraint's cases set, so they combine."""
    default = msgspec.structs.asdict(Requirement())
    fields = dict(default)
    for key in CONSTRAINTS:
        case = msgspec.structs.asdict((MISSED if key in missed else MET)[key])
        fields.update({name: value for name, value in case.items() if value != default[name]})
    return Requirement(**fields)


@given(st.sets(st.sampled_from(CONSTRAINTS)))
def test_every_unmet_constraint_is_reported_in_evaluation_order(missed: set[str]) -> None:
    fit = check(NODE, FREE, _mixed(missed), did=DID)
    assert [u.constraint for u in fit.unmet] == [k for k in CONSTRAINTS if k in missed]
    assert fit.ok is (not missed)


def test_a_requirement_missing_everything_lists_all_constraints() -> None:
    fit = check(NODE, FREE, _mixed(set(CONSTRAINTS)), did=DID)
    assert tuple(u.constraint for u in fit.unmet) == CONSTRAINTS


@pytest.mark.parametrize(
    ("requirement", "detail"),
    [
        (Requirement(cpu=4), "needs 4 cores; 1.5 free of 8 onboarded"),
        (Requirement(ram=16 * GIB), "needs 16GiB ram; 8GiB free of 32GiB onboarded"),
        (Requirement(disk=64 * GIB), "needs 64GiB disk; 50GiB free of 100GiB onboarded"),
        (
            Requirement(max_price=Price(currency="USDC", gpu=5)),
            "node prices in NTX, the cap is in USDC",
        ),
        (Requirement(max_price=Price(cpu=0.05, ram=0.01)), "cpu costs 0.1 NTX, cap 0.05; ram"),
        (
            Requirement(executors=("firecracker",)),
            "lacks executors firecracker; node offers docker, qemu",
        ),
        (Requirement(reject_peers=(DID,)), f"peer {DID} is rejected"),
        (Requirement(accept_peers=("did:key:x",)), "not among the 1 accepted peers"),
        (
            Requirement(reject_locations=(LocationRule(city="berlin"),)),
            "location EU/DE/Berlin AS3320 is rejected by */*/berlin",
        ),
        (Requirement(labels={"zone": "a"}), "label zone='a' needed, node's is absent"),
        (Requirement(benchmarks={"disk_read": 1}), "disk_read needs 1; node measured 0"),
        (Requirement(bandwidth=2 * 10**9), "needs 2Gbit/s; node has 1Gbit/s"),
        (Requirement(gpus=(GpuNeed(vendor="amd"),)), "needs 1 distinct GPUs (amd); 2 free of 2"),
    ],
)
def test_details_say_what_was_asked_and_what_the_node_has(
    requirement: Requirement, detail: str
) -> None:
    fit = check(NODE, FREE, requirement, did=DID)
    assert len(fit.unmet) == 1
    assert detail in fit.unmet[0].detail


def test_resources_are_checked_against_what_is_free_not_what_is_onboarded() -> None:
    busy = Resources(cpu=0.5, ram=GIB, disk=GIB, gpus=(T4,))
    fit = check(
        NODE, busy, Requirement(cpu=1, ram=2 * GIB, disk=2 * GIB, gpus=(GpuNeed(vram=20 * GIB),))
    )
    assert [u.constraint for u in fit.unmet] == ["cpu", "ram", "disk", "gpus"]
    assert "1 free of 2 onboarded" in fit.unmet[3].detail


def test_the_fit_carries_the_devices_chosen_for_the_gpu_needs() -> None:
    needs = (GpuNeed(vram=10 * GIB), GpuNeed(model="a100"))
    fit = check(NODE, FREE, Requirement(gpus=needs))
    assert fit.gpus == (T4, A100) == assign_gpus(needs, FREE.gpus)
    assert check(NODE, FREE, Requirement(gpus=(GpuNeed(vendor="amd"),))).gpus == ()


@pytest.mark.parametrize(
    ("location", "accept", "reject", "ok"),
    [
        (Location(), (), (), True),
        (Location(), (LocationRule(continent="EU"),), (), False),  # unknown is not accepted
        (Location(), (), (LocationRule(continent="EU"),), True),  # nor rejected
        (NODE.location, (LocationRule(),), (), True),
        (NODE.location, (LocationRule(asn=3320),), (), True),
        (NODE.location, (LocationRule(asn=3321),), (), False),
        (NODE.location, (LocationRule(country="FR"), LocationRule(city="BERLIN")), (), True),
        (NODE.location, (LocationRule(continent="EU"),), (LocationRule(country="de"),), False),
        (NODE.location, (LocationRule(continent="EU", country="FR"),), (), False),
    ],
)
def test_location_rules_match_case_insensitively_with_empty_fields_matching_anything(
    location: Location,
    accept: tuple[LocationRule, ...],
    reject: tuple[LocationRule, ...],
    ok: bool,
) -> None:
    node = msgspec.structs.replace(NODE, location=location)
    requirement = Requirement(accept_locations=accept, reject_locations=reject)
    assert check(node, FREE, requirement).ok is ok


@pytest.mark.parametrize(
    ("did", "accept", "reject", "ok"),
    [
        ("", (), (), True),
        ("", (DID,), (), False),  # an unknown peer is not among the accepted
        (DID, (), (), True),
        (DID, (DID,), (), True),
        (DID, ("did:key:x",), (), False),
        (DID, (), (DID,), False),
        (DID, (), ("did:key:x",), True),
    ],
)
def test_peers_are_accepted_and_rejected_by_did(
    did: str, accept: tuple[str, ...], reject: tuple[str, ...], ok: bool
) -> None:
    requirement = Requirement(accept_peers=accept, reject_peers=reject)
    assert check(NODE, FREE, requirement, did=did).ok is ok


@pytest.mark.parametrize(
    ("cap", "ok"),
    [
        (Price(), True),  # zero fields cap nothing: only the currency must agree
        (Price(per_job=1), True),
        (Price(cpu=0.1, ram=0.05, gpu=2.0), True),
        (Price(ram=0.04), False),
        (Price(currency="USDC"), False),
    ],
)
def test_every_non_zero_price_field_caps_the_same_field(cap: Price, ok: bool) -> None:
    assert check(NODE, FREE, Requirement(max_price=cap)).ok is ok


def test_a_per_job_charge_is_capped_too() -> None:
    node = msgspec.structs.replace(NODE, price=Price(per_job=3))
    assert not check(node, FREE, Requirement(max_price=Price(per_job=2))).ok


def test_duplicate_public_ports_count_once() -> None:
    node = msgspec.structs.replace(NODE, network=NetworkInfo(public_ports=(80, 80)))
    assert not check(node, FREE, Requirement(public_ports=2)).ok


def test_an_unknown_benchmark_is_unmet_rather_than_ignored() -> None:
    fit = check(NODE, FREE, Requirement(benchmarks={"network_rtt": 0.0}))
    assert [u.constraint for u in fit.unmet] == ["benchmarks"]
    assert "not a benchmark" in fit.unmet[0].detail


@given(
    capabilities, resources, requirements, st.sampled_from(["", "did:key:alice", "did:key:carol"])
)
def test_ok_means_nothing_unmet_and_keys_follow_constraints_order(
    capability: Capability, free: Resources, requirement: Requirement, did: str
) -> None:
    fit = check(capability, free, requirement, did=did)
    keys = [u.constraint for u in fit.unmet]
    assert fit.ok is (keys == [])
    assert keys == [k for k in CONSTRAINTS if k in keys]
    assert len(set(keys)) == len(keys)
    assert ("gpus" in keys) is (assign_gpus(requirement.gpus, free.gpus) is None)
