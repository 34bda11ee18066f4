"""Events onboarding, the resource manager and benchmarking append to the node's log.

They replicate with the log, so the swarm's capability index is built from them: a node's
`capability.announced` says what it offers, `resources.allocated`/`released` carry what is free
after each change (so an index applies one event in constant time), `onboarding.offboarded`
withdraws the node.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from nunet.capability.model import Benchmarks, Capability, Location, Price, Resources, Short
from nunet.eventlog import Event


class Reservation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The share of the machine a provider offers, as validated against the machine."""

    resources: Resources  # cpu cores, ram, disk, and the reserved GPU devices themselves
    price: Price = Price()
    location: Location = Location()
    labels: dict[Short, Short] = {}


class Onboarded(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "onboarding.onboarded"
    reservation: Reservation


class Resized(Event, frozen=True, kw_only=True):
    """The reservation changed without offboarding; allocations running keep their share."""

    TYPE: ClassVar[str] = "onboarding.resized"
    previous: Reservation
    reservation: Reservation


class Offboarded(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "onboarding.offboarded"
    reason: str = ""


class Allocated(Event, frozen=True, kw_only=True):
    """`resources` were set aside for `allocation`; `free` is what remains."""

    TYPE: ClassVar[str] = "resources.allocated"
    allocation: str
    resources: Resources
    free: Resources


class Released(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "resources.released"
    allocation: str
    resources: Resources
    free: Resources


class BenchmarkCompleted(Event, frozen=True, kw_only=True):
    """A benchmark run of the onboarded share; `rtt` is seconds to each peer measured."""

    TYPE: ClassVar[str] = "benchmark.completed"
    benchmarks: Benchmarks
    rtt: dict[str, float] = {}
    notes: list[str] = []  # what could not be measured and why (e.g. no GPU driver)


class CapabilityAnnounced(Event, frozen=True, kw_only=True):
    """What this node offers the swarm now, and what of it is free."""

    TYPE: ClassVar[str] = "capability.announced"
    capability: Capability
    free: Resources


class OnboardingRefused(Event, frozen=True, kw_only=True):
    """An onboard, offboard or benchmark request was refused; nothing changed."""

    TYPE: ClassVar[str] = "onboarding.refused"
    operation: str  # onboard, offboard, benchmark
    code: str  # the error code the caller got, e.g. exceeds-machine
    reason: str  # the message the caller got, naming the field


class AllocationRefused(Event, frozen=True, kw_only=True):
    """An allocate or release request was refused; nothing changed."""

    TYPE: ClassVar[str] = "resources.refused"
    operation: str  # allocate, release
    allocation: str
    code: str
    reason: str


EVENTS: tuple[type[Event], ...] = (
    Onboarded,
    Resized,
    Offboarded,
    Allocated,
    Released,
    BenchmarkCompleted,
    CapabilityAnnounced,
    OnboardingRefused,
    AllocationRefused,
)
