"""Where a provider reserves what it commits: the node's resource ledger, behind a narrow interface.

`Reservations` is what the provider needs; `OnboardingReservations` implements it on the node's
onboarding actor (`/dms/node/resources/allocate|release`, invoked as the node, so the ledger's
own actor makes and logs every change).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from nunet.actor import Actor, ActorError, ActorSystem, Handle, RemoteError
from nunet.allocation.errors import CannotCommit
from nunet.capability.model import Capability, Resources
from nunet.onboarding import (
    ALLOCATE_BEHAVIOR,
    ONBOARDING_ACTOR_ID,
    RELEASE_BEHAVIOR,
    OnboardingActor,
    offering_of,
)

LEDGER_TIMEOUT = 10.0


class Reservations(Protocol):
    """The node's resource ledger as the provider sees it. `via` is the actor asking (the
    ledger's changes are messages, so they need a sender)."""

    def offering(self) -> tuple[Capability, Resources] | None:
        """What the node offers and what of it is free now; None when not onboarded."""
        ...

    def held(self) -> Mapping[str, Resources]:
        """Every reservation the ledger holds now, by id."""
        ...

    async def reserve(self, via: Actor, reservation: str, resources: Resources) -> Resources:
        """Set `resources` aside (GPUs by device index); CannotCommit naming what is short."""
        ...

    async def release(self, via: Actor, reservation: str) -> bool:
        """Give a reservation back; False when the ledger held nothing under that id."""
        ...


class OnboardingReservations:
    """`Reservations` on the node's onboarding actor, looked up at every call (it may restart)."""

    def __init__(self, system: ActorSystem, *, timeout: float = LEDGER_TIMEOUT) -> None:
        self._system = system
        self._timeout = timeout

    def offering(self) -> tuple[Capability, Resources] | None:
        return offering_of(self._system)

    def held(self) -> Mapping[str, Resources]:
        actor = self._system.actor(ONBOARDING_ACTOR_ID)
        return actor.ledger.allocations if isinstance(actor, OnboardingActor) else {}

    async def reserve(self, via: Actor, reservation: str, resources: Resources) -> Resources:
        ask = {
            "allocation": reservation,
            "cpu": resources.cpu,
            "ram": resources.ram,
            "disk": resources.disk,
            "gpus": [gpu.index for gpu in resources.gpus],
        }
        try:
            await via.invoke(self._ledger(), ALLOCATE_BEHAVIOR, ask, timeout=self._timeout)
        except RemoteError as exc:
            raise CannotCommit(f"the resource ledger refused: {exc.remote_message}") from None
        except ActorError as exc:
            raise CannotCommit(f"the resource ledger did not answer: {exc}") from None
        return self.held().get(reservation, resources)

    async def release(self, via: Actor, reservation: str) -> bool:
        try:
            await via.invoke(
                self._ledger(),
                RELEASE_BEHAVIOR,
                {"allocation": reservation},
                timeout=self._timeout,
            )
        except RemoteError as exc:
            if exc.code == "unknown-allocation":
                return False
            raise
        return True

    def _ledger(self) -> Handle:
        try:
            return self._system.handle_of(ONBOARDING_ACTOR_ID)
        except ActorError as exc:
            raise CannotCommit(f"this node's resource ledger is not running: {exc}") from None
