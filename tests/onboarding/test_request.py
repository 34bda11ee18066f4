"""User input in user units → onboarding and allocation asks; executors found on the machine;
the capability assembled from machine, reservation and benchmark."""

from __future__ import annotations

from typing import Any

import pytest

from nunet.capability.model import Benchmarks, GpuNeed, Location, Price
from nunet.onboarding import (
    AllocationRequest,
    InvalidReservation,
    ShareRequest,
    allocation_request_from_user,
    capability_of,
    detect_executors,
    reserve,
    share_request_from_user,
)
from tests.onboarding.machines import GiB, MiB, machine


def test_a_full_onboarding_ask_in_user_units() -> None:
    request = share_request_from_user(
        {
            "cpu": "2.5",
            "ram": "4GiB",
            "disk": 20 * GiB,
            "gpus": "0, 1",
            "price": {"cpu": 0.1, "gpu": 2, "currency": "NTX"},
            "location": {"continent": "EU", "country": "DE"},
            "labels": {"tier": "gold", "rack": 7},
        }
    )
    assert request == ShareRequest(
        cpu=2.5,
        ram=4 * GiB,
        disk=20 * GiB,
        gpus=(0, 1),
        price=Price(cpu=0.1, gpu=2.0, currency="NTX"),
        location=Location(continent="EU", country="DE"),
        labels={"tier": "gold", "rack": "7"},
    )


@pytest.mark.parametrize("none", [None, "none", "NONE", "", []])
def test_every_spelling_of_no_gpu_reserves_none(none: object) -> None:
    assert share_request_from_user({"gpus": none}).gpus == ()


def test_fields_left_out_are_kept_on_a_resize() -> None:
    assert share_request_from_user({"cpu": 3}) == ShareRequest(cpu=3)
    assert share_request_from_user(None) == ShareRequest()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["a=1", "b = two"], {"a": "1", "b": "two"}),
        ("a=1,b=2", {"a": "1", "b": "2"}),
        ({"a": "1"}, {"a": "1"}),
    ],
)
def test_labels_as_a_mapping_or_key_value_texts(labels: object, expected: dict[str, str]) -> None:
    assert share_request_from_user({"labels": labels}).labels == expected


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"ram": "4G"}, "ram: '4G' is not a size"),
        ({"ram": "4Gb"}, "ram: "),
        ({"disk": -1}, "disk: -1 is negative"),
        ({"cpu": "two"}, "cpu: 'two' is not a number"),
        ({"cpu": -1}, "cpu: -1 must be a finite number"),
        ({"gpus": "0,x"}, "gpus: 'x' is not a GPU index"),
        ({"gpus": [-1]}, "gpus: -1 is not a GPU index"),
        ({"gpus": [True]}, "gpus: True is not a GPU index"),
        ({"gpus": 3}, "gpus: 3 is not a list of GPU indices"),
        ({"price": "cpu=cheap"}, "price.cpu"),
        ({"price": {"bananas": 1}}, "price"),
        ({"location": 42}, "location"),
        ({"labels": ["novalue"]}, "labels: 'novalue' is not key=value"),
        ({"labels": 3}, "labels: 3 is not a mapping"),
        ({"cores": 2}, "cores: unknown field; onboard takes cpu, ram, disk, gpus"),
        ([1, 2], "onboard: expected a mapping"),
    ],
)
def test_bad_onboarding_input_names_the_field(payload: object, words: str) -> None:
    with pytest.raises(InvalidReservation) as refused:
        share_request_from_user(payload)
    assert words in str(refused.value)


def test_user_units_reach_the_machine_check_exactly() -> None:
    reservation = reserve(
        share_request_from_user({"cpu": 1, "ram": "512MiB", "disk": "1GB"}), machine()
    )
    assert reservation.resources.ram == 512 * MiB
    assert reservation.resources.disk == 10**9


def test_allocation_asks_with_devices_or_needs() -> None:
    assert allocation_request_from_user(
        {"allocation": "job-1", "cpu": 0.5, "ram": "1GiB", "gpus": [1]}
    ) == AllocationRequest(allocation="job-1", cpu=0.5, ram=GiB, gpus=(1,))
    needs = allocation_request_from_user(
        {"allocation": "job-2", "gpu_needs": [{"vram": "8GiB", "vendor": "nvidia"}]}
    )
    assert needs.gpu_needs == (GpuNeed(vram=8 * GiB, vendor="nvidia"),)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"cpu": 1}, "allocation: required"),
        ({"allocation": ""}, "allocation: required"),
        ({"allocation": "a", "gpus": [0], "gpu_needs": [{}]}, "not both"),
        ({"allocation": "a", "gpu_needs": [{"vram": "8G"}]}, "gpu_needs[0].vram: '8G'"),
        ({"allocation": "a", "gpu_needs": [{"colour": "red"}]}, "gpu_needs[0]: "),
        ({"allocation": "a", "gpu_needs": ["big"]}, "gpu_needs[0]: 'big' is not a mapping"),
        ({"allocation": "a", "gpu_needs": 2}, "gpu_needs: 2 is not a list"),
        ({"allocation": "a", "mem": 1}, "mem: unknown field; allocate takes"),
    ],
)
def test_bad_allocation_input_names_the_field(payload: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidReservation) as refused:
        allocation_request_from_user(payload)
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("binaries", "socket", "expected"),
    [
        (set(), False, ()),
        ({"docker"}, False, ()),  # a CLI without its engine runs nothing
        ({"docker"}, True, ("docker",)),
        ({"qemu-system-x86_64", "firecracker"}, False, ("qemu", "firecracker")),
        ({"docker", "qemu-system-x86_64", "firecracker"}, True, ("docker", "qemu", "firecracker")),
    ],
)
def test_executors_are_found_by_their_binaries_and_the_docker_socket(
    binaries: set[str], socket: bool, expected: tuple[str, ...]
) -> None:
    found = detect_executors(
        which=lambda name: f"/usr/bin/{name}" if name in binaries else None,
        exists=lambda path: socket and path == "/var/run/docker.sock",
    )
    assert found == expected


def test_the_capability_joins_machine_reservation_benchmarks_and_executors() -> None:
    box = machine()
    reservation = reserve(
        ShareRequest(cpu=2, ram=GiB, disk=GiB, gpus=(0,), price=Price(cpu=1.0), labels={"a": "b"}),
        box,
    )
    capability = capability_of(
        box,
        reservation,
        benchmarks=Benchmarks(cpu_single=5.0),
        executors=("docker", "qemu"),
        storage=("s3",),
    )
    assert capability.resources == reservation.resources
    assert capability.cpu == box.cpu
    assert capability.os == "linux"
    assert capability.executors == ("docker", "qemu")
    assert capability.storage == ("s3",)
    assert capability.price == Price(cpu=1.0)
    assert capability.labels == {"a": "b"}
    assert capability.benchmarks.cpu_single == 5.0
    assert capability_of(box, reservation).benchmarks == Benchmarks()
