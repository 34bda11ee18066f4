"""The transport interface: how already-encoded, signed envelopes move between nodes.

Each implementation (in-memory, NATS, ...) passes the contract in `tests/network/contract.py`;
README.md states the semantics every implementation honours.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable

InboxHandler = Callable[[bytes], Awaitable[bytes | None]]
"""Handles a message to this node's inbox; for a request, the returned bytes are the reply."""

TopicHandler = Callable[[bytes], Awaitable[None]]
"""Handles a message published to a topic this node subscribed to."""

DEFAULT_MAX_PAYLOAD = 1024 * 1024
"""1 MiB, the NATS server default."""


class Subscription(abc.ABC):
    """A live interest in a topic pattern; unsubscribe to stop deliveries."""

    @property
    @abc.abstractmethod
    def topic(self) -> str:
        """The topic or wildcard pattern subscribed to."""

    @abc.abstractmethod
    async def unsubscribe(self) -> None:
        """Stop deliveries: no handler call begins after this returns. Idempotent.

        A handler call already running is not interrupted, so a handler may unsubscribe itself.
        """


class Transport(abc.ABC):
    """One node's connection to the swarm: an inbox at `address`, topics, request/reply."""

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """This node's address (the runtime uses the node DID): one subject token."""

    @property
    @abc.abstractmethod
    def max_payload(self) -> int:
        """The largest payload, in bytes, this transport sends; larger raises MessageTooLarge."""

    @abc.abstractmethod
    async def start(self, inbox: InboxHandler) -> None:
        """Connect and begin delivering messages addressed to this node to `inbox`.

        Raises AddressInUse if the medium already has a started transport at this address,
        TransportClosed if this transport was closed, TransportError if already started.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop everything. Idempotent. Requests this node awaits fail with TransportClosed;
        requests peers await from this node fail with PeerUnreachable (or time out)."""

    @abc.abstractmethod
    async def send(self, address: str, data: bytes) -> None:
        """One-way message to the inbox at `address`. Returns once the message is accepted
        into the peer's (bounded) inbox buffer, not when it is handled.

        Raises PeerUnreachable, InvalidAddress, MessageTooLarge, TransportClosed.
        """

    @abc.abstractmethod
    async def request(self, address: str, data: bytes, *, timeout: float) -> bytes:
        """Send to the inbox at `address` and return the handler's reply.

        Raises RequestTimeout, RequestFailed, PeerUnreachable, InvalidAddress, MessageTooLarge,
        TransportClosed; ValueError if timeout is not positive.
        """

    @abc.abstractmethod
    async def publish(self, topic: str, data: bytes) -> None:
        """Deliver to every subscription whose pattern matches `topic`, this node's included.

        Raises InvalidTopic (wildcards included), MessageTooLarge, TransportClosed.
        """

    @abc.abstractmethod
    async def subscribe(self, topic: str, handler: TopicHandler) -> Subscription:
        """Call `handler` for every message published to a topic matching `topic`.

        `*` matches one token, `>` one or more trailing tokens. Raises InvalidTopic,
        TransportClosed.
        """
