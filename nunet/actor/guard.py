"""Checks an envelope must pass before it reaches a handler: time, replay, rate, capability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nunet.actor.behavior import Behavior
from nunet.actor.envelope import Envelope
from nunet.actor.errors import (
    EnvelopeFromFuture,
    ExpiredEnvelope,
    MalformedEnvelope,
    RateLimited,
    ReplayedEnvelope,
    Unauthorized,
)
from nunet.actor.replay import ReplayWindow
from nunet.errors import NunetError

NS = 1_000_000_000


class Authorizer(Protocol):
    """Decides whether a DID may invoke a behavior (see `nunet.ucan.CapabilityContext`)."""

    def authorize(
        self,
        sender_did: str,
        behavior: str,
        *,
        topic: str | None,
        proofs: Sequence[bytes],
        now: float,
    ) -> None: ...


class RatePolicy(Protocol):
    """Answers None to let a message through, or the name of the limit that refused it."""

    def refuse(self, sender: str, topic: str | None, now: float) -> str | None: ...


class EnvelopeGuard:
    """Receipt checks for one node. `admit` runs before dispatch, `authorize` once the behavior is known."""

    def __init__(
        self,
        owner_did: str,
        authorizer: Authorizer,
        *,
        rates: RatePolicy | None = None,
        replay: ReplayWindow | None = None,
        max_skew_seconds: float = 30.0,
        max_ttl_seconds: float = 600.0,
    ) -> None:
        self.owner_did = owner_did
        self._authorizer = authorizer
        self._rates = rates
        self._replay = replay if replay is not None else ReplayWindow()
        self._max_skew = int(max_skew_seconds * NS)
        self._max_ttl = int(max_ttl_seconds * NS)

    def admit_remote(self, envelope: Envelope, now: int) -> None:
        """Checks for an envelope that crossed the wire (its signature is already verified)."""
        self._check_times(envelope, now)
        if envelope.expires_at - envelope.created_at > self._max_ttl:
            raise MalformedEnvelope(
                f"envelope lifetime {(envelope.expires_at - envelope.created_at) / NS:.0f}s "
                f"exceeds the maximum of {self._max_ttl / NS:.0f}s"
            )
        if not self._replay.remember(envelope.nonce, envelope.expires_at, now):
            if self._replay.is_full():
                raise RateLimited("replay window is full; try again when envelopes expire")
            raise ReplayedEnvelope(
                f"nonce {envelope.nonce.hex()} from {envelope.sender.did} was already received"
            )
        self._check_rate(envelope, now)

    def admit_local(self, envelope: Envelope, now: int) -> None:
        """Checks for an in-process envelope: it cannot be forged or replayed, but it can be stale."""
        self._check_times(envelope, now)
        if envelope.sender.did != self.owner_did:
            self._check_rate(envelope, now)

    def authorize(self, envelope: Envelope, behavior: Behavior, now: int) -> None:
        sender = envelope.sender.did
        if behavior.senders is not None:
            if sender not in behavior.senders:
                raise Unauthorized(f"{sender} may not invoke {behavior.path}")
            return
        if not behavior.needs_capability or sender == self.owner_did:
            return
        try:
            self._authorizer.authorize(
                sender,
                envelope.behavior,
                topic=envelope.topic,
                proofs=envelope.capability,
                now=now / NS,
            )
        except NunetError as exc:
            raise Unauthorized(f"{sender} may not invoke {envelope.behavior}: {exc}") from None

    def _check_times(self, envelope: Envelope, now: int) -> None:
        if envelope.expires_at <= now:
            raise ExpiredEnvelope(
                f"envelope {envelope.behavior} from {envelope.sender.did} expired "
                f"{(now - envelope.expires_at) / NS:.3f}s ago"
            )
        if envelope.created_at > now + self._max_skew:
            raise EnvelopeFromFuture(
                f"envelope created {(envelope.created_at - now) / NS:.1f}s in the future "
                f"(allowed clock skew {self._max_skew / NS:.0f}s)"
            )

    def _check_rate(self, envelope: Envelope, now: int) -> None:
        if self._rates is None:
            return
        refused = self._rates.refuse(envelope.sender.did, envelope.topic, now / NS)
        if refused is not None:
            raise RateLimited(f"{envelope.sender.did}: {refused}")
