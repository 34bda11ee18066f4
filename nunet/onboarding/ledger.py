"""The resource manager's pure core: the onboarded share, what is allocated of it, what is free.

No I/O. Every operation checks its input, changes the ledger and returns the events recording
the change (or raises an `OnboardingError` naming what is wrong and changes nothing);
`apply(event)` folds those events back, so replaying a node's log rebuilds the ledger: the
events in the log are the source of truth and the persistence.

States and operations (↺ = stays, ✗ = refused):

| state \\ op           | onboard          | offboard                       | allocate          | release          |
|----------------------|------------------|--------------------------------|-------------------|------------------|
| not onboarded        | Onboarded → idle | ✗ not-onboarded                | ✗ not-onboarded   | ✗ unknown-alloc  |
| onboarded, idle      | Resized ↺        | Offboarded → not onboarded     | Allocated → busy  | ✗ unknown-alloc  |
| onboarded, busy      | Resized ↺ (✗ if smaller than allocated) | ✗ allocations-running; force: Released…, Offboarded | Allocated ↺ (✗ if not free) | Released (→ idle when last) |
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from nunet.capability.gpus import assign_gpus
from nunet.capability.model import Gpu, GpuNeed, Resources
from nunet.capability.units import format_size
from nunet.eventlog import Event
from nunet.hardware.machine import Machine
from nunet.onboarding.errors import (
    AllocationsRunning,
    DuplicateAllocation,
    InsufficientResources,
    InvalidReservation,
    NotOnboarded,
    UnknownAllocation,
)
from nunet.onboarding.events import (
    Allocated,
    Offboarded,
    Onboarded,
    Released,
    Reservation,
    Resized,
)
from nunet.onboarding.share import DEFAULT_RAM_HEADROOM, ShareRequest, format_cores, reserve

CPU_EPSILON = 1e-6  # cores: sums of fractional cores are compared with this tolerance
MAX_ALLOCATION_ID = 256


class ResourceLedger:
    """One node's onboarded share and its allocations. Only its owner (the onboarding actor)
    changes it; readers use `reservation`, `allocations`, `allocated()` and `free()`."""

    def __init__(self, *, ram_headroom: int = DEFAULT_RAM_HEADROOM) -> None:
        self.ram_headroom = ram_headroom
        self._reservation: Reservation | None = None
        self._allocations: dict[str, Resources] = {}

    # -- reading ---------------------------------------------------------------------------
    @property
    def onboarded(self) -> bool:
        return self._reservation is not None

    @property
    def reservation(self) -> Reservation | None:
        return self._reservation

    @property
    def allocations(self) -> Mapping[str, Resources]:
        return dict(self._allocations)

    def allocated(self) -> Resources:
        """Everything the allocations hold together."""
        return _total(self._allocations.values())

    def free(self) -> Resources:
        """The share minus what is allocated (nothing when not onboarded)."""
        if self._reservation is None:
            return Resources()
        return _minus(self._reservation.resources, self.allocated())

    def copy(self) -> ResourceLedger:
        twin = ResourceLedger(ram_headroom=self.ram_headroom)
        twin._reservation = self._reservation
        twin._allocations = dict(self._allocations)
        return twin

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceLedger):
            return NotImplemented
        return (self._reservation, self._allocations) == (other._reservation, other._allocations)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ResourceLedger(reservation={self._reservation!r}, allocations={self._allocations!r})"
        )

    # -- operations ------------------------------------------------------------------------
    def onboard(self, request: ShareRequest, machine: Machine) -> list[Event]:
        """Onboard `request` (checked against `machine`), or resize the share when onboarded.

        A resize is refused when the new share is smaller than what is allocated now; an
        unchanged reservation changes nothing and returns no event.
        """
        current = self._reservation
        allocated = self.allocated()
        reservation = reserve(
            request,
            machine,
            current=current,
            allocated_disk=allocated.disk,
            ram_headroom=self.ram_headroom,
        )
        if current is None:
            return self._emit([Onboarded(reservation=reservation)])
        if reservation == current:
            return []
        _check_covers(reservation.resources, allocated, self._allocations)
        return self._emit([Resized(previous=current, reservation=reservation)])

    def offboard(self, *, force: bool = False, reason: str = "") -> list[Event]:
        """Withdraw the share. With allocations running this is refused unless `force`, which
        releases each of them first (one `Released` event each)."""
        if self._reservation is None:
            raise NotOnboarded("offboard: this node is not onboarded")
        if self._allocations and not force:
            running = ", ".join(sorted(self._allocations))
            raise AllocationsRunning(
                f"offboard: {len(self._allocations)} allocation(s) still hold resources "
                f"({running}); release them first or offboard with force"
            )
        events: list[Event] = []
        for allocation in list(self._allocations):
            events += self.release(allocation)
        return events + self._emit([Offboarded(reason=reason)])

    def allocate(self, allocation: str, resources: Resources) -> list[Event]:
        """Set `resources` aside for `allocation`; GPUs are the devices named by their index."""
        reservation = self._can_allocate(allocation)
        _check_amounts(resources)
        held_by = {gpu.index: name for name, held in self._allocations.items() for gpu in held.gpus}
        reserved = {gpu.index: gpu for gpu in reservation.resources.gpus}
        devices: list[Gpu] = []
        for gpu in resources.gpus:
            if gpu.index in {d.index for d in devices}:
                raise InvalidReservation(f"gpus: device {gpu.index} is asked for twice")
            if gpu.index not in reserved:
                raise InsufficientResources(
                    f"gpus: device {gpu.index} is not in the onboarded share "
                    f"(onboarded: {_indices(reservation.resources.gpus)})"
                )
            if gpu.index in held_by:
                raise InsufficientResources(
                    f"gpus: device {gpu.index} is allocated to {held_by[gpu.index]}"
                )
            devices.append(reserved[gpu.index])
        wanted = Resources(
            cpu=resources.cpu,
            ram=resources.ram,
            disk=resources.disk,
            gpus=tuple(sorted(devices, key=lambda gpu: gpu.index)),
        )
        _check_fits(wanted, self.free())
        self._allocations[allocation] = wanted
        return [Allocated(allocation=allocation, resources=wanted, free=self.free())]

    def allocate_devices(
        self,
        allocation: str,
        *,
        cpu: float = 0.0,
        ram: int = 0,
        disk: int = 0,
        gpus: Sequence[int] = (),
    ) -> list[Event]:
        """Like `allocate`, with the GPU devices named by their index in the share."""
        reservation = self._can_allocate(allocation)
        reserved = {gpu.index: gpu for gpu in reservation.resources.gpus}
        for index in gpus:
            if index not in reserved:
                raise InsufficientResources(
                    f"gpus: device {index} is not in the onboarded share "
                    f"(onboarded: {_indices(reservation.resources.gpus)})"
                )
        devices = tuple(reserved[index] for index in gpus)
        return self.allocate(allocation, Resources(cpu=cpu, ram=ram, disk=disk, gpus=devices))

    def allocate_for(
        self,
        allocation: str,
        *,
        cpu: float = 0.0,
        ram: int = 0,
        disk: int = 0,
        gpu_needs: Sequence[GpuNeed] = (),
    ) -> list[Event]:
        """Like `allocate`, choosing a free GPU device for each of `gpu_needs`."""
        self._can_allocate(allocation)
        free = self.free()
        devices = assign_gpus(tuple(gpu_needs), free.gpus)
        if devices is None:
            raise InsufficientResources(
                f"gpus: {len(gpu_needs)} GPU(s) asked ({_needs(gpu_needs)}) but the free "
                f"devices ({_describe(free.gpus)}) cannot meet them"
            )
        return self.allocate(
            allocation, Resources(cpu=cpu, ram=ram, disk=disk, gpus=tuple(devices))
        )

    def release(self, allocation: str) -> list[Event]:
        """Give back what `allocation` holds."""
        if allocation not in self._allocations:
            raise UnknownAllocation(f"allocation {allocation!r} holds no resources on this node")
        resources = self._allocations.pop(allocation)
        return [Released(allocation=allocation, resources=resources, free=self.free())]

    # -- replay ----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one of the ledger's events (from the log) into the state; others are ignored.

        Trusts the log: no check is repeated, so a replay never refuses its own history.
        """
        match event:
            case Onboarded(reservation=reservation) | Resized(reservation=reservation):
                self._reservation = reservation
            case Offboarded():
                self._reservation = None
                self._allocations.clear()
            case Allocated(allocation=allocation, resources=resources):
                self._allocations[allocation] = resources
            case Released(allocation=allocation):
                self._allocations.pop(allocation, None)
            case _:
                pass

    # -- checks ----------------------------------------------------------------------------
    def _emit(self, events: list[Event]) -> list[Event]:
        for event in events:
            self.apply(event)
        return events

    def _can_allocate(self, allocation: str) -> Reservation:
        if self._reservation is None:
            raise NotOnboarded(f"allocate {allocation!r}: this node is not onboarded")
        if not isinstance(allocation, str) or not allocation.strip():
            raise InvalidReservation("allocation: an allocation needs a non-empty id")
        if len(allocation) > MAX_ALLOCATION_ID:
            raise InvalidReservation(
                f"allocation: the id is {len(allocation)} characters; at most {MAX_ALLOCATION_ID}"
            )
        if allocation in self._allocations:
            raise DuplicateAllocation(f"allocation {allocation!r} already holds resources here")
        return self._reservation


LEDGER_EVENTS: tuple[type[Event], ...] = (Onboarded, Resized, Offboarded, Allocated, Released)
"""The event types `ResourceLedger.apply` folds (what a replay reads from the log)."""


def _check_amounts(resources: Resources) -> None:
    if isinstance(resources.cpu, bool) or not math.isfinite(resources.cpu) or resources.cpu < 0:
        raise InvalidReservation(f"cpu: {resources.cpu!r} must be a finite number ≥ 0")
    for field in ("ram", "disk"):
        value = getattr(resources, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidReservation(f"{field}: {value!r} must be a whole number of bytes ≥ 0")


def _check_fits(wanted: Resources, free: Resources) -> None:
    if wanted.cpu > free.cpu + CPU_EPSILON:
        raise InsufficientResources(
            f"cpu: {format_cores(wanted.cpu)} cores asked but {format_cores(free.cpu)} are free"
        )
    for field in ("ram", "disk"):
        asked, left = getattr(wanted, field), getattr(free, field)
        if asked > left:
            raise InsufficientResources(
                f"{field}: {format_size(asked)} asked but {format_size(left)} is free"
            )


def _check_covers(share: Resources, allocated: Resources, holders: Mapping[str, Resources]) -> None:
    """A resized share must still hold everything allocated now."""
    if allocated.cpu > share.cpu + CPU_EPSILON:
        raise AllocationsRunning(
            f"cpu: allocations hold {format_cores(allocated.cpu)} cores now; the new share has {format_cores(share.cpu)}"
        )
    for field in ("ram", "disk"):
        held, new = getattr(allocated, field), getattr(share, field)
        if held > new:
            raise AllocationsRunning(
                f"{field}: allocations hold {format_size(held)} now; the new share has "
                f"{format_size(new)}"
            )
    kept = {gpu.index for gpu in share.gpus}
    for name, held_resources in holders.items():
        for gpu in held_resources.gpus:
            if gpu.index not in kept:
                raise AllocationsRunning(
                    f"gpus: device {gpu.index} is allocated to {name}; the new share leaves it out"
                )


def _total(parts: Iterable[Resources]) -> Resources:
    items = list(parts)
    return Resources(
        cpu=_round_cpu(math.fsum(r.cpu for r in items)),
        ram=sum(r.ram for r in items),
        disk=sum(r.disk for r in items),
        gpus=tuple(sorted((g for r in items for g in r.gpus), key=lambda g: g.index)),
    )


def _minus(share: Resources, allocated: Resources) -> Resources:
    taken = {gpu.index for gpu in allocated.gpus}
    return Resources(
        cpu=max(0.0, _round_cpu(share.cpu - allocated.cpu)),
        ram=max(0, share.ram - allocated.ram),
        disk=max(0, share.disk - allocated.disk),
        gpus=tuple(gpu for gpu in share.gpus if gpu.index not in taken),
    )


def _round_cpu(cores: float) -> float:
    # Sums of fractions (0.1 + 0.2) are rounded so free + allocated adds up to the share.
    return round(cores, 9)


def _indices(gpus: Sequence[Gpu]) -> str:
    return ", ".join(str(gpu.index) for gpu in gpus) or "none"


def _describe(gpus: Sequence[Gpu]) -> str:
    return ", ".join(f"{gpu.index}: {gpu.model} {format_size(gpu.vram)}" for gpu in gpus) or "none"


def _needs(needs: Sequence[GpuNeed]) -> str:
    parts = []
    for need in needs:
        words = [w for w in (need.vendor, need.model) if w]
        if need.vram:
            words.append(f"≥ {format_size(need.vram)}")
        if need.compute_capability:
            words.append(f"cc ≥ {need.compute_capability}")
        parts.append(" ".join(words) or "any")
    return "; ".join(parts)
