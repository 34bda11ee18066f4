"""Peer discovery: signed presence announcements, the peer table, RTTs and scores.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.peers.announcement import (
    PING_BEHAVIOR,
    PRESENCE_BEHAVIOR,
    PRESENCE_TOPIC,
    Presence,
    named_addresses,
)
from nunet.peers.errors import UnknownPeer
from nunet.peers.events import (
    EVENTS,
    PeerAddressChanged,
    PeerDown,
    PeerEvicted,
    PeerJoined,
    PeerRestarted,
    PeerUp,
    PresenceRefused,
)
from nunet.peers.links import Links
from nunet.peers.presence import (
    CONNECT_BEHAVIOR,
    LIST_BEHAVIOR,
    PEER_PING_BEHAVIOR,
    PEERS_ACTOR_ID,
    RTT_BEHAVIOR,
    SCORE_BEHAVIOR,
    PresenceActor,
    ProbeFailed,
    RttRequest,
)
from nunet.peers.table import (
    AddressChanged,
    CameUp,
    Evicted,
    Joined,
    PeerRecord,
    PeerState,
    PeerTable,
    Restarted,
    Transition,
    WentDown,
)

__all__ = [
    "CONNECT_BEHAVIOR",
    "EVENTS",
    "LIST_BEHAVIOR",
    "PEERS_ACTOR_ID",
    "PEER_PING_BEHAVIOR",
    "PING_BEHAVIOR",
    "PRESENCE_BEHAVIOR",
    "PRESENCE_TOPIC",
    "RTT_BEHAVIOR",
    "SCORE_BEHAVIOR",
    "AddressChanged",
    "CameUp",
    "Evicted",
    "Joined",
    "Links",
    "PeerAddressChanged",
    "PeerDown",
    "PeerEvicted",
    "PeerJoined",
    "PeerRecord",
    "PeerRestarted",
    "PeerState",
    "PeerTable",
    "PeerUp",
    "Presence",
    "PresenceActor",
    "PresenceRefused",
    "ProbeFailed",
    "Restarted",
    "RttRequest",
    "Transition",
    "UnknownPeer",
    "WentDown",
    "named_addresses",
]
