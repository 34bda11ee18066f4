"""A reservation checked against the machine: each limit, its boundary and its message."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from nunet.capability.model import CpuInfo, Location, Price
from nunet.onboarding.errors import ExceedsMachine, InvalidReservation
from nunet.onboarding.share import DEFAULT_RAM_HEADROOM, ShareRequest, drift, reserve
from tests.onboarding.machines import GiB, gpu, machine, share


def test_a_share_that_fits_becomes_a_reservation_holding_the_machines_gpu_records() -> None:
    box = machine()
    reservation = reserve(share(gpus=(1,)), box)
    assert reservation.resources.cpu == 4.0
    assert reservation.resources.ram == 8 * GiB
    assert reservation.resources.disk == 100 * GiB
    assert reservation.resources.gpus == (box.gpus[1],)
    assert reservation.price == Price()
    assert reservation.location == Location()


def test_limits_are_inclusive_at_the_machines_size() -> None:
    box = machine()
    whole = reserve(
        ShareRequest(cpu=8, ram=16 * GiB - DEFAULT_RAM_HEADROOM, disk=200 * GiB, gpus=(1, 0)),
        box,
    )
    assert whole.resources.cpu == 8
    assert [g.index for g in whole.resources.gpus] == [0, 1]  # sorted by index


@pytest.mark.parametrize(
    ("request_", "field", "words"),
    [
        (share(cpu=8.5), "cpu", "8.5 cores asked but the machine has 8 logical CPUs"),
        (share(ram=16 * GiB), "ram", "keeps 512MiB for the system; reserve at most 15.5GiB"),
        (share(disk=200 * GiB + 1), "disk", "only 200GiB is free"),
        (share(gpus=(0, 7)), "gpus", "no GPU with index 7 (its GPUs: 0, 1)"),
    ],
)
def test_more_than_the_machine_has_is_refused_naming_the_field(
    request_: ShareRequest, field: str, words: str
) -> None:
    with pytest.raises(ExceedsMachine) as refused:
        reserve(request_, machine())
    assert str(refused.value).startswith(f"{field}: ")
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (ShareRequest(ram=GiB, disk=GiB), "cpu: required when onboarding"),
        (ShareRequest(cpu=1, disk=GiB), "ram: required when onboarding"),
        (ShareRequest(cpu=1, ram=GiB), "disk: required when onboarding"),
        (share(cpu=0), "cpu: 0 must be a positive amount"),
        (share(cpu=-1), "cpu: -1 must be a positive amount"),
        (share(cpu=float("nan")), "cpu: nan must be a positive amount"),
        (share(ram=0), "ram: 0 must be a positive amount"),
        (share(disk=-5), "disk: -5 must be a positive amount"),
        (ShareRequest(cpu=1, ram=1.5, disk=GiB), "ram: 1.5 must be a whole number of bytes"),  # type: ignore[arg-type]
        (share(gpus=(0, 0)), "gpus: device 0 is listed twice"),
        (share(gpus=(-1,)), "gpus: -1 is not a GPU index"),
        (ShareRequest(cpu=1, ram=GiB, disk=GiB, labels={"": "x"}), "labels: '' is not a label"),
    ],
)
def test_malformed_asks_are_refused_naming_the_field(request_: ShareRequest, words: str) -> None:
    with pytest.raises(InvalidReservation) as refused:
        reserve(request_, machine())
    assert words in str(refused.value)


def test_a_machine_without_a_cpu_count_cannot_be_onboarded() -> None:
    box = machine()
    unknown = replace(box, cpu=CpuInfo())
    with pytest.raises(ExceedsMachine, match="number of CPUs is unknown"):
        reserve(share(), unknown)


def test_cores_count_where_threads_are_unknown() -> None:
    box = machine()
    cores_only = replace(box, cpu=CpuInfo(cores=2))
    assert reserve(share(cpu=2, gpus=()), cores_only).resources.cpu == 2
    with pytest.raises(ExceedsMachine, match="machine has 2 logical CPUs"):
        reserve(share(cpu=3, gpus=()), cores_only)


def test_a_resize_keeps_what_it_does_not_name() -> None:
    box = machine()
    current = reserve(
        ShareRequest(
            cpu=2,
            ram=4 * GiB,
            disk=10 * GiB,
            gpus=(0,),
            price=Price(cpu=0.1),
            location=Location(continent="EU"),
            labels={"tier": "gold"},
        ),
        box,
    )
    resized = reserve(ShareRequest(cpu=6), box, current=current)
    assert resized.resources.cpu == 6
    assert resized.resources.ram == 4 * GiB
    assert resized.resources.gpus == current.resources.gpus
    assert (resized.price, resized.location, resized.labels) == (
        current.price,
        current.location,
        current.labels,
    )
    no_gpu = reserve(ShareRequest(gpus=()), box, current=current)
    assert no_gpu.resources.gpus == ()


def test_a_resize_checks_only_what_it_changes() -> None:
    """The machine drifted (disk filled up); changing the CPUs must still work."""
    box = machine()
    current = reserve(share(disk=150 * GiB), box)
    fuller = replace(box, disk_free=10 * GiB)
    assert reserve(ShareRequest(cpu=2), fuller, current=current).resources.disk == 150 * GiB
    with pytest.raises(ExceedsMachine, match="disk: "):
        reserve(ShareRequest(disk=151 * GiB), fuller, current=current)


def test_disk_allocations_hold_counts_as_the_nodes_own() -> None:
    box = machine(disk_free=10 * GiB)
    current = reserve(share(disk=10 * GiB, gpus=()), box)
    grown = reserve(ShareRequest(disk=15 * GiB), box, current=current, allocated_disk=5 * GiB)
    assert grown.resources.disk == 15 * GiB
    with pytest.raises(ExceedsMachine, match="plus 5GiB allocations hold"):
        reserve(ShareRequest(disk=16 * GiB), box, current=current, allocated_disk=5 * GiB)


def test_a_larger_headroom_lowers_the_ram_limit() -> None:
    with pytest.raises(ExceedsMachine, match="reserve at most 12GiB"):
        reserve(share(ram=13 * GiB), machine(), ram_headroom=4 * GiB)


def test_drift_reports_what_no_longer_fits_the_machine() -> None:
    box = machine()
    reservation = reserve(share(ram=14 * GiB, gpus=(0, 1)), box)
    assert drift(reservation, box) == [
        "ram: 14GiB reserved but only 12GiB is available now; jobs may be short of memory"
    ]
    changed = machine(threads=2, disk_free=GiB, gpus=(gpu(0, model="T4"),))
    notes = drift(reservation, changed)
    assert any(n.startswith("cpu: 4 cores reserved but the machine has 2") for n in notes)
    assert any(n.startswith("disk: 100GiB reserved but only 1GiB is free") for n in notes)
    assert "gpus: device 0 is now a T4, not a A100" in notes
    assert "gpus: device 1 (RTX 4090) is no longer on the machine" in notes
