"""Onboarding and the resource manager: a share of the machine, checked against it, persisted
as events in the node's log, allocated and released, benchmarked and announced.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.onboarding.actor import OnboardingActor
from nunet.onboarding.behaviors import (
    ALLOCATE_BEHAVIOR,
    BENCHMARK_BEHAVIOR,
    CAPABILITY_BEHAVIOR,
    HARDWARE_BEHAVIOR,
    MAX_BENCHMARK_SECONDS,
    OFFBOARD_BEHAVIOR,
    ONBOARD_BEHAVIOR,
    ONBOARDING_ACTOR_ID,
    RELEASE_BEHAVIOR,
    STATUS_BEHAVIOR,
)
from nunet.onboarding.errors import (
    AllocationsRunning,
    BenchmarkBusy,
    DetectionFailed,
    DuplicateAllocation,
    ExceedsMachine,
    InsufficientResources,
    InvalidReservation,
    NotOnboarded,
    OnboardingError,
    UnknownAllocation,
)
from nunet.onboarding.events import (
    EVENTS,
    Allocated,
    AllocationRefused,
    BenchmarkCompleted,
    CapabilityAnnounced,
    Offboarded,
    Onboarded,
    OnboardingRefused,
    Released,
    Reservation,
    Resized,
)
from nunet.onboarding.ledger import LEDGER_EVENTS, ResourceLedger
from nunet.onboarding.offer import DEFAULT_STORAGE, capability_of, detect_executors
from nunet.onboarding.request import (
    AllocationRequest,
    allocation_request_from_user,
    share_request_from_user,
)
from nunet.onboarding.share import DEFAULT_RAM_HEADROOM, ShareRequest, drift, reserve
from nunet.onboarding.view import ResourceView, offering_of

__all__ = [
    "ALLOCATE_BEHAVIOR",
    "BENCHMARK_BEHAVIOR",
    "CAPABILITY_BEHAVIOR",
    "DEFAULT_RAM_HEADROOM",
    "DEFAULT_STORAGE",
    "EVENTS",
    "HARDWARE_BEHAVIOR",
    "LEDGER_EVENTS",
    "MAX_BENCHMARK_SECONDS",
    "OFFBOARD_BEHAVIOR",
    "ONBOARDING_ACTOR_ID",
    "ONBOARD_BEHAVIOR",
    "RELEASE_BEHAVIOR",
    "STATUS_BEHAVIOR",
    "Allocated",
    "AllocationRefused",
    "AllocationRequest",
    "AllocationsRunning",
    "BenchmarkBusy",
    "BenchmarkCompleted",
    "CapabilityAnnounced",
    "DetectionFailed",
    "DuplicateAllocation",
    "ExceedsMachine",
    "InsufficientResources",
    "InvalidReservation",
    "NotOnboarded",
    "Offboarded",
    "Onboarded",
    "OnboardingActor",
    "OnboardingError",
    "OnboardingRefused",
    "Released",
    "Reservation",
    "Resized",
    "ResourceLedger",
    "ResourceView",
    "ShareRequest",
    "UnknownAllocation",
    "allocation_request_from_user",
    "capability_of",
    "detect_executors",
    "drift",
    "offering_of",
    "reserve",
    "share_request_from_user",
]
