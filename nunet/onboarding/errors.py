"""Why onboarding or the resource manager refused something; each error names what is wrong.

Every error carries a short machine `code`, which the actor passes on as its `BehaviorFailed`
code and records in the refusal event.
"""

from nunet.errors import NunetError


class OnboardingError(NunetError):
    """Base of the refusals of onboarding and the resource manager."""

    code = "onboarding-error"


class InvalidReservation(OnboardingError):
    """A field of an onboarding or allocation request is malformed (unit, type, unknown field)."""

    code = "invalid-request"


class ExceedsMachine(OnboardingError):
    """The reservation asks for more than the machine has (cores, RAM, disk, a GPU index)."""

    code = "exceeds-machine"


class NotOnboarded(OnboardingError):
    """The operation needs an onboarded share and there is none."""

    code = "not-onboarded"


class AllocationsRunning(OnboardingError):
    """Offboarding or shrinking would take resources that allocations are using now."""

    code = "allocations-running"


class InsufficientResources(OnboardingError):
    """An allocation asks for more than is free now."""

    code = "insufficient-resources"


class DuplicateAllocation(OnboardingError):
    code = "duplicate-allocation"


class UnknownAllocation(OnboardingError):
    code = "unknown-allocation"


class BenchmarkBusy(OnboardingError):
    """A benchmark run is under way; one runs at a time."""

    code = "benchmark-running"


class DetectionFailed(OnboardingError):
    """The machine could not be detected, so nothing can be checked against it."""

    code = "hardware-detection-failed"
