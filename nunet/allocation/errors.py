"""Errors of the provider side of deployment: each carries the `code` it is answered with."""

from __future__ import annotations

from nunet.errors import NunetError


class AllocationError(NunetError):
    """Base of every allocation error."""

    code = "allocation-error"


class IllegalTransition(AllocationError):
    """An allocation step out of order (start what runs, restart what was released, ...)."""

    code = "illegal-transition"


class CannotCommit(AllocationError):
    """A commit this node cannot honour: no valid bid, or what it asks is not free now."""

    code = "commit-refused"


class NotYourDeployment(AllocationError):
    """The sender is not the orchestrator that committed this deployment here."""

    code = "not-your-deployment"


class UnknownDeployment(AllocationError):
    """No live commitment for this deployment and node (never committed, reverted, expired)."""

    code = "unknown-deployment"


class AllocateRefused(AllocationError):
    """Allocation orders that cannot be run as given; names the allocation and the field."""

    code = "allocate-refused"


class ContractEnded(AllocationError):
    """The contract this work ran under ended (unpaid past its grace period, budget spent,
    terminated): the provider will not run it again."""

    code = "contract-ended"
