"""Actors that talk only by immutable, signed envelopes; behaviors found by path at run time.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.actor.actor import Actor, behavior, unpack_reply
from nunet.actor.behavior import Behavior, BehaviorTable, Message
from nunet.actor.envelope import (
    DEFAULT_EXPIRY_SECONDS,
    MAX_ENVELOPE_BYTES,
    Envelope,
    canonical_body,
    seal,
    unseal,
)
from nunet.actor.errors import (
    ActorError,
    ActorStopped,
    BehaviorFailed,
    EnvelopeFromFuture,
    EnvelopeRejected,
    EnvelopeTooLarge,
    ExpiredEnvelope,
    ForgedEnvelope,
    InvokeTimeout,
    MalformedEnvelope,
    MisaddressedEnvelope,
    NonCanonicalEnvelope,
    RateLimited,
    RemoteError,
    ReplayedEnvelope,
    Unauthorized,
    UnknownActor,
    UnknownBehavior,
    UnsignedEnvelope,
)
from nunet.actor.guard import Authorizer, EnvelopeGuard, RatePolicy
from nunet.actor.handle import BROADCAST, Handle
from nunet.actor.replay import ReplayWindow
from nunet.actor.supervision import ChildSpec, Intensity, Restart, Strategy, Supervision
from nunet.actor.supervisor import Child, Supervisor, SupervisorEscalated
from nunet.actor.system import ActorSystem

__all__ = [
    "BROADCAST",
    "DEFAULT_EXPIRY_SECONDS",
    "MAX_ENVELOPE_BYTES",
    "Actor",
    "ActorError",
    "ActorStopped",
    "ActorSystem",
    "Authorizer",
    "Behavior",
    "BehaviorFailed",
    "BehaviorTable",
    "Child",
    "ChildSpec",
    "Envelope",
    "EnvelopeFromFuture",
    "EnvelopeGuard",
    "EnvelopeRejected",
    "EnvelopeTooLarge",
    "ExpiredEnvelope",
    "ForgedEnvelope",
    "Handle",
    "Intensity",
    "InvokeTimeout",
    "MalformedEnvelope",
    "Message",
    "MisaddressedEnvelope",
    "NonCanonicalEnvelope",
    "RateLimited",
    "RatePolicy",
    "RemoteError",
    "ReplayWindow",
    "ReplayedEnvelope",
    "Restart",
    "Strategy",
    "Supervision",
    "Supervisor",
    "SupervisorEscalated",
    "Unauthorized",
    "UnknownActor",
    "UnknownBehavior",
    "UnsignedEnvelope",
    "behavior",
    "canonical_body",
    "seal",
    "unpack_reply",
    "unseal",
]
