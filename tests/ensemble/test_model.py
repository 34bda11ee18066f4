"""What the orchestrator takes from the model: requirements for matching and executor specs."""

from __future__ import annotations

from nunet.capability import GpuNeed, LocationRule, Requirement, parse_requirement_spec
from nunet.ensemble import AllocationType, Restart, load_ensemble
from nunet.executor import ExecutionSpec, Limits
from nunet.executor.contract_support import check_spec
from tests.ensemble.support import IMAGE, base, put

GIB = 1 << 30


def full() -> dict[str, object]:
    doc = put(
        base(),
        "allocations.a",
        {
            "type": "service",
            "executor": "docker",
            "resources": {
                "cpu": 2.5,
                "ram": "1GiB",
                "disk": "10GiB",
                "gpus": [{"vram": "24GiB", "vendor": "nvidia"}],
            },
            "execution": {
                "image": IMAGE,
                "command": "echo hi",
                "entrypoint": ["/bin/sh"],
                "env": {"A": "1"},
                "working_dir": "/w",
            },
            "healthcheck": {"exec": ["test", "-f", "/ok"]},
            "timeouts": {"run": "1h30m"},
            "privileged": True,
        },
    )
    doc = put(
        doc,
        "allocations.b",
        {
            "executor": "qemu",
            "resources": {"cpu": 1, "ram": "512MiB"},
            "execution": {"image": IMAGE},
        },
    )
    return put(
        doc,
        "nodes.n1",
        {
            "allocations": ["a", "b"],
            "ports": [
                {"public": 80, "private": 8080, "allocation": "a"},
                {"public": 443, "private": 8443, "allocation": "a"},
            ],
            "location": {"accept": ["EU/DE"], "reject": ["EU/DE/Berlin"]},
            "peer": "did:key:z6MkPin",
            "require": "arch=x86_64,label.zone=a",
        },
    )


def test_defaults_are_resolved_at_load() -> None:
    ensemble = load_ensemble(base())
    allocation = ensemble.allocations["a"]
    assert allocation.type is AllocationType.TASK
    assert allocation.restart is Restart.NEVER
    assert allocation.dns_name == "a"
    assert (allocation.resources.cpu, allocation.resources.ram, allocation.resources.disk) == (
        1.0,
        256 << 20,
        0,
    )
    assert (allocation.timeouts.start, allocation.timeouts.run) == (120.0, 0.0)
    assert ensemble.name == "ensemble"
    service = load_ensemble(put(base(), "allocations.a.type", "service")).allocations["a"]
    assert service.restart is Restart.ALWAYS


def test_allocation_requirement_carries_resources_and_executor() -> None:
    allocation = load_ensemble(full()).allocations["a"]
    assert allocation.requirement() == Requirement(
        cpu=2.5,
        ram=GIB,
        disk=10 * GIB,
        gpus=(GpuNeed(vram=24 * GIB, vendor="nvidia"),),
        executors=("docker",),
    )


def test_allocation_spec_is_what_the_executor_runs() -> None:
    allocation = load_ensemble(full()).allocations["a"]
    spec = allocation.spec("job-1")
    assert spec == ExecutionSpec(
        id="job-1",
        image=IMAGE,
        command=("sh", "-c", "echo hi"),
        entrypoint=("/bin/sh",),
        env={"A": "1"},
        working_dir="/w",
        limits=Limits(cpu=2.5, memory=GIB, disk=10 * GIB, timeout_seconds=5400.0),
        privileged=True,
        health_check=("test", "-f", "/ok"),
    )
    assert check_spec(spec, allow_privileged=True) == spec


def test_a_spec_without_entrypoint_keeps_the_images_own() -> None:
    spec = load_ensemble(base()).allocations["a"].spec("x")
    assert spec.entrypoint is None
    assert spec.health_check == ()
    assert check_spec(spec, allow_privileged=False) == spec


def test_node_requirement_sums_allocations_and_adds_placement() -> None:
    ensemble = load_ensemble(full())
    requirement = ensemble.nodes["n1"].requirement(ensemble.allocations)
    extra = parse_requirement_spec("arch=x86_64,label.zone=a")
    assert requirement.cpu == 3.5
    assert requirement.ram == GIB + (512 << 20)
    assert requirement.disk == 10 * GIB
    assert requirement.gpus == (GpuNeed(vram=24 * GIB, vendor="nvidia"),)
    assert requirement.executors == ("docker", "qemu")
    assert requirement.public_ports == 2
    assert requirement.accept_locations == (LocationRule(continent="EU", country="DE"),)
    assert requirement.reject_locations == (
        LocationRule(continent="EU", country="DE", city="Berlin"),
    )
    assert requirement.accept_peers == ("did:key:z6MkPin",)
    assert requirement.architectures == extra.architectures == ("x86_64",)
    assert requirement.labels == {"zone": "a"}


def test_a_node_require_may_raise_the_floor_above_the_sum() -> None:
    doc = put(
        base(),
        "nodes.n1.require",
        {"cpu": 16, "ram": "64GiB", "executors": ["firecracker"], "public_ports": 3},
    )
    ensemble = load_ensemble(doc)
    requirement = ensemble.nodes["n1"].requirement(ensemble.allocations)
    assert (requirement.cpu, requirement.ram, requirement.public_ports) == (16.0, 64 * GIB, 3)
    assert requirement.executors == ("docker", "firecracker")


def test_gpus_as_a_count_are_that_many_unconstrained_devices() -> None:
    allocation = load_ensemble(put(base(), "allocations.a.resources", {"gpus": 2})).allocations["a"]
    assert allocation.resources.gpus == (GpuNeed(), GpuNeed())
