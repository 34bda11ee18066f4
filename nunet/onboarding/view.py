"""A read-only view of the resource manager for other actors of the same node (matching)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from nunet.capability.model import Capability, Resources
from nunet.onboarding.events import Reservation
from nunet.onboarding.ledger import ResourceLedger

if TYPE_CHECKING:
    from nunet.actor import ActorSystem


class ResourceView:
    """What this node offers and what of it is free, read in process (never changed through it).

    `capability()` is None while the node is not onboarded.
    """

    def __init__(
        self, ledger: Callable[[], ResourceLedger], capability: Callable[[], Capability | None]
    ) -> None:
        self._ledger = ledger
        self._capability = capability

    @property
    def onboarded(self) -> bool:
        return self._ledger().onboarded

    @property
    def reservation(self) -> Reservation | None:
        return self._ledger().reservation

    @property
    def allocations(self) -> Mapping[str, Resources]:
        return self._ledger().allocations

    def capability(self) -> Capability | None:
        return self._capability()

    def free(self) -> Resources:
        return self._ledger().free()

    def offering(self) -> tuple[Capability, Resources] | None:
        """The capability and what of it is free, together; None while not onboarded."""
        capability = self._capability()
        return None if capability is None else (capability, self._ledger().free())

    def allocated(self) -> Resources:
        return self._ledger().allocated()


def offering_of(system: ActorSystem) -> tuple[Capability, Resources] | None:
    """What the node's onboarding actor offers now and what of it is free; None when it is not
    onboarded or not running. Looks the actor up at every call, so it survives restarts
    (the matching actor's `offering` callable)."""
    from nunet.onboarding.actor import OnboardingActor
    from nunet.onboarding.behaviors import ONBOARDING_ACTOR_ID

    actor = system.actor(ONBOARDING_ACTOR_ID)
    if not isinstance(actor, OnboardingActor):
        return None
    capability = actor.capability()
    if capability is None:
        return None
    return capability, actor.ledger.free()
