"""What a provider asks to onboard, and the pure check of that ask against the machine.

Safety rules (documented in docs/onboarding.md):

* cpu: 0 < cpu ≤ the machine's logical CPUs (threads; cores where threads are unknown).
* ram: 0 < ram ≤ total RAM - `ram_headroom` (RAM left to the operating system and the node
  itself, 512 MiB by default). Reserving more than is *available* right now is allowed (other
  programs may free it) but is reported as a warning.
* disk: 0 < disk ≤ free space of the home's filesystem + the disk allocations hold now (space
  running jobs may already be using is the node's own).
* gpus: each index names a distinct GPU of the machine; the reservation holds that device's
  record. None are reserved unless asked for.
* A resize checks only what it changes: an unchanged value stays valid even when the machine
  drifted since (such drift is reported as a warning, never silently dropped).
"""

from __future__ import annotations

import math
from typing import TypeVar

import msgspec

from nunet.capability.model import Gpu, Location, Price, Resources
from nunet.capability.units import format_size
from nunet.hardware.machine import Machine
from nunet.onboarding.errors import ExceedsMachine, InvalidReservation
from nunet.onboarding.events import Reservation

T = TypeVar("T")

DEFAULT_RAM_HEADROOM = 512 << 20
MAX_LABELS = 64


class ShareRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An onboarding ask in canonical units. None: keep the current value (required at first).

    `gpus` are device indices on the machine; `()` reserves no GPU.
    """

    cpu: float | None = None
    ram: int | None = None
    disk: int | None = None
    gpus: tuple[int, ...] | None = None
    price: Price | None = None
    location: Location | None = None
    labels: dict[str, str] | None = None


def reserve(
    request: ShareRequest,
    machine: Machine,
    *,
    current: Reservation | None = None,
    allocated_disk: int = 0,
    ram_headroom: int = DEFAULT_RAM_HEADROOM,
) -> Reservation:
    """The reservation `request` asks for (merged over `current`), checked against `machine`.

    Raises InvalidReservation for a missing or malformed value and ExceedsMachine for more than
    the machine has; each message names the field and what would fit.
    """
    old = current.resources if current is not None else None
    cpu = _pick("cpu", request.cpu, old.cpu if old else None)
    ram = _pick("ram", request.ram, old.ram if old else None)
    disk = _pick("disk", request.disk, old.disk if old else None)
    if request.gpus is not None:
        gpus = _machine_gpus(request.gpus, machine)
    else:
        gpus = old.gpus if old else ()
    if old is None or cpu != old.cpu:
        _check_cpu(cpu, machine)
    for field, amount in (("ram", ram), ("disk", disk)):
        if amount != int(amount):
            raise InvalidReservation(f"{field}: {amount!r} must be a whole number of bytes")
    if old is None or ram != old.ram:
        _check_ram(int(ram), machine, ram_headroom)
    if old is None or disk != old.disk:
        _check_disk(int(disk), machine, allocated_disk)
    labels = request.labels if request.labels is not None else (current.labels if current else {})
    _check_labels(labels)
    return Reservation(
        resources=Resources(cpu=float(cpu), ram=int(ram), disk=int(disk), gpus=gpus),
        price=_keep(request.price, current.price if current else None, Price()),
        location=_keep(request.location, current.location if current else None, Location()),
        labels=dict(labels),
    )


def drift(reservation: Reservation, machine: Machine) -> list[str]:
    """Where an accepted reservation no longer fits the machine as it is now (warnings)."""
    share, notes = reservation.resources, []
    threads = _threads(machine)
    if share.cpu > threads:
        notes.append(
            f"cpu: {format_cores(share.cpu)} cores reserved but the machine has {threads} now"
        )
    if share.ram > machine.ram_available:
        notes.append(
            f"ram: {format_size(share.ram)} reserved but only "
            f"{format_size(machine.ram_available)} is available now; jobs may be short of memory"
        )
    if share.disk > machine.disk_free:
        notes.append(
            f"disk: {format_size(share.disk)} reserved but only "
            f"{format_size(machine.disk_free)} is free now"
        )
    present = {gpu.index: gpu for gpu in machine.gpus}
    for gpu in share.gpus:
        found = present.get(gpu.index)
        if found is None:
            notes.append(f"gpus: device {gpu.index} ({gpu.model}) is no longer on the machine")
        elif (found.model, found.uuid) != (gpu.model, gpu.uuid):
            notes.append(f"gpus: device {gpu.index} is now a {found.model}, not a {gpu.model}")
    return notes


def format_cores(cores: float) -> str:
    """`2`, `0.5`, `1000000`: whole numbers without a decimal point or an exponent."""
    return str(int(cores)) if float(cores).is_integer() else f"{cores:.6g}"


def _pick(field: str, asked: float | None, current: float | None) -> float:
    value = asked if asked is not None else current
    if value is None:
        raise InvalidReservation(
            f"{field}: required when onboarding (e.g. --cpu 2 --ram 4GiB --disk 20GiB)"
        )
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidReservation(f"{field}: {value!r} must be a positive amount")
    return value


def _keep(asked: T | None, current: T | None, default: T) -> T:
    if asked is not None:
        return asked
    return current if current is not None else default


def _threads(machine: Machine) -> int:
    return machine.cpu.threads or machine.cpu.cores


def _check_cpu(cpu: float, machine: Machine) -> None:
    threads = _threads(machine)
    if threads == 0:
        raise ExceedsMachine(
            "cpu: the machine's number of CPUs is unknown; nothing can be reserved"
        )
    if cpu > threads:
        raise ExceedsMachine(
            f"cpu: {format_cores(cpu)} cores asked but the machine has {threads} logical CPUs; "
            f"reserve at most {threads}"
        )


def _check_ram(ram: int, machine: Machine, headroom: int) -> None:
    limit = max(0, machine.ram - headroom)
    if ram > limit:
        raise ExceedsMachine(
            f"ram: {format_size(ram)} asked but the machine has {format_size(machine.ram)} and "
            f"keeps {format_size(headroom)} for the system; reserve at most {format_size(limit)}"
        )


def _check_disk(disk: int, machine: Machine, allocated_disk: int) -> None:
    limit = machine.disk_free + allocated_disk
    if disk > limit:
        raise ExceedsMachine(
            f"disk: {format_size(disk)} asked but only {format_size(machine.disk_free)} is free "
            f"on the node's filesystem"
            + (f" (plus {format_size(allocated_disk)} allocations hold)" if allocated_disk else "")
            + f"; reserve at most {format_size(limit)}"
        )


def _machine_gpus(indices: tuple[int, ...], machine: Machine) -> tuple[Gpu, ...]:
    present = {gpu.index: gpu for gpu in machine.gpus}
    seen: set[int] = set()
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidReservation(f"gpus: {index!r} is not a GPU index (0, 1, ...)")
        if index in seen:
            raise InvalidReservation(f"gpus: device {index} is listed twice")
        seen.add(index)
        if index not in present:
            have = ", ".join(str(i) for i in sorted(present)) or "none"
            raise ExceedsMachine(
                f"gpus: the machine has no GPU with index {index} (its GPUs: {have})"
            )
    return tuple(present[index] for index in sorted(seen))


def _check_labels(labels: dict[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise InvalidReservation(f"labels: {len(labels)} labels; at most {MAX_LABELS}")
    for key, value in labels.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 256:
            raise InvalidReservation(f"labels: {key!r} is not a label name (1 to 256 characters)")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidReservation(f"labels.{key}: {value!r} must be text of at most 256 chars")
