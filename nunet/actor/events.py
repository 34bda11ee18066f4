"""Events the actor runtime appends to the node's log: every envelope in or out, and actor lifecycles."""

from __future__ import annotations

from typing import ClassVar

from nunet.actor.envelope import Envelope
from nunet.eventlog import Event


class EnvelopeSent(Event, frozen=True, kw_only=True):
    """An envelope left this node; `sealed` is its signed wire form, verifiable later."""

    TYPE: ClassVar[str] = "envelope.sent"
    recipient_node: str
    behavior: str
    sealed: bytes


class EnvelopeReceived(Event, frozen=True, kw_only=True):
    """An envelope from another node passed every check and was queued for its actor."""

    TYPE: ClassVar[str] = "envelope.received"
    sender_did: str
    behavior: str
    sealed: bytes


class EnvelopeDelivered(Event, frozen=True, kw_only=True):
    """An envelope went from one actor of this node to another without crossing the wire."""

    TYPE: ClassVar[str] = "envelope.delivered"
    envelope: Envelope


class EnvelopeRefused(Event, frozen=True, kw_only=True):
    """An envelope failed a check and never reached a handler.

    `code` is the machine reason (bad-signature, expired, replayed, unauthorized, ...), `data`
    the bytes as received (cut to 64 KiB), so nothing sent to the node is lost unseen; for an
    envelope between this node's own actors, its canonical body.
    """

    TYPE: ClassVar[str] = "envelope.refused"
    code: str
    reason: str
    claimed_sender: str
    behavior: str
    size: int
    data: bytes


class ActorStarted(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "actor.started"
    actor: str
    kind: str


class ActorStopped(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "actor.stopped"
    actor: str


class ActorFailed(Event, frozen=True, kw_only=True):
    """An actor's handler raised something it did not mean to; its supervisor decides what next."""

    TYPE: ClassVar[str] = "actor.failed"
    actor: str
    error: str


class ChildRestarted(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "supervisor.child_restarted"
    supervisor: str
    child: str
    strategy: str


class SupervisorEscalation(Event, frozen=True, kw_only=True):
    """A supervisor exceeded its restart intensity and gave up, failing to its own parent."""

    TYPE: ClassVar[str] = "supervisor.escalated"
    supervisor: str
    reason: str


EVENTS: tuple[type[Event], ...] = (
    EnvelopeSent,
    EnvelopeReceived,
    EnvelopeDelivered,
    EnvelopeRefused,
    ActorStarted,
    ActorStopped,
    ActorFailed,
    ChildRestarted,
    SupervisorEscalation,
)
