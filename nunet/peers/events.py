"""Events peer discovery appends to the node's log: peers joining, going down, coming back."""

from __future__ import annotations

from typing import ClassVar

from nunet.eventlog import Event
from nunet.peers.table import (
    AddressChanged,
    CameUp,
    Evicted,
    Joined,
    Restarted,
    Transition,
    WentDown,
)


class PeerJoined(Event, frozen=True, kw_only=True):
    """The first presence heard from a peer."""

    TYPE: ClassVar[str] = "peer.joined"
    did: str
    node: str
    addresses: dict[str, str]
    heartbeat_seconds: float
    version: str


class PeerDown(Event, frozen=True, kw_only=True):
    """A peer's heartbeats stopped: `missed` of them were overdue, `silent_seconds` since the last."""

    TYPE: ClassVar[str] = "peer.down"
    did: str
    missed: int
    silent_seconds: float


class PeerUp(Event, frozen=True, kw_only=True):
    """A peer that was down announced itself again."""

    TYPE: ClassVar[str] = "peer.up"
    did: str
    down_seconds: float


class PeerAddressChanged(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "peer.address_changed"
    did: str
    old_node: str
    node: str
    old_addresses: dict[str, str]
    addresses: dict[str, str]


class PeerRestarted(Event, frozen=True, kw_only=True):
    """A presence from a new incarnation: the peer's presence actor (or node) started again."""

    TYPE: ClassVar[str] = "peer.restarted"
    did: str
    previous_incarnation: int
    incarnation: int


class PeerEvicted(Event, frozen=True, kw_only=True):
    """The peer table was full: the peer silent longest made room for a newcomer."""

    TYPE: ClassVar[str] = "peer.evicted"
    did: str
    silent_seconds: float


class PresenceRefused(Event, frozen=True, kw_only=True):
    """A presence whose claims do not match its signed envelope; it never reached the table."""

    TYPE: ClassVar[str] = "peer.presence_refused"
    sender_did: str
    claimed_did: str
    reason: str


def event_of(transition: Transition) -> Event:
    """The log event that records a peer-table transition."""
    match transition:
        case Joined():
            return PeerJoined(
                did=transition.did,
                node=transition.node,
                addresses=dict(transition.addresses),
                heartbeat_seconds=transition.heartbeat_seconds,
                version=transition.version,
            )
        case WentDown():
            return PeerDown(
                did=transition.did,
                missed=transition.missed,
                silent_seconds=transition.silent_seconds,
            )
        case CameUp():
            return PeerUp(did=transition.did, down_seconds=transition.down_seconds)
        case AddressChanged():
            return PeerAddressChanged(
                did=transition.did,
                old_node=transition.old_node,
                node=transition.node,
                old_addresses=dict(transition.old_addresses),
                addresses=dict(transition.addresses),
            )
        case Restarted():
            return PeerRestarted(
                did=transition.did,
                previous_incarnation=transition.previous_incarnation,
                incarnation=transition.incarnation,
            )
        case Evicted():
            return PeerEvicted(did=transition.did, silent_seconds=transition.silent_seconds)


EVENTS: tuple[type[Event], ...] = (
    PeerJoined,
    PeerDown,
    PeerUp,
    PeerAddressChanged,
    PeerRestarted,
    PeerEvicted,
    PresenceRefused,
)
