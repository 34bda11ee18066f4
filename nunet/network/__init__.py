"""How nodes exchange bytes: one small Transport interface and its implementations."""

from nunet.network.errors import (
    AddressInUse,
    InvalidAddress,
    InvalidTopic,
    MessageTooLarge,
    PeerUnreachable,
    RequestFailed,
    RequestTimeout,
    TransportClosed,
    TransportError,
    TransportNotStarted,
)
from nunet.network.memory import InMemoryNetwork, InMemoryTransport
from nunet.network.nats import NatsTransport
from nunet.network.nats_topics import NatsSubscription
from nunet.network.subjects import topic_matches, validate_address, validate_pattern, validate_topic
from nunet.network.transport import (
    DEFAULT_MAX_PAYLOAD,
    InboxHandler,
    Subscription,
    TopicHandler,
    Transport,
)

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "AddressInUse",
    "InMemoryNetwork",
    "InMemoryTransport",
    "InboxHandler",
    "InvalidAddress",
    "InvalidTopic",
    "MessageTooLarge",
    "NatsSubscription",
    "NatsTransport",
    "PeerUnreachable",
    "RequestFailed",
    "RequestTimeout",
    "Subscription",
    "TopicHandler",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportNotStarted",
    "topic_matches",
    "validate_address",
    "validate_pattern",
    "validate_topic",
]
