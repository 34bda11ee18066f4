"""A topic subscription over NATS: de-duplicated by message id, delivered through a bounded lane.

The NATS callback only checks and queues; the handler runs from a DeliveryLane, so a slow handler
fills its own lane and then loses publications (counted in `dropped`) without stalling anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscriptionHandle
from nats.errors import Error as NatsError

from nunet.network.delivery import DeliveryLane
from nunet.network.nats_dedup import RecentIds
from nunet.network.nats_wire import Malformed, parse_message_id
from nunet.network.transport import Subscription, TopicHandler

_log = logging.getLogger("nunet.network.nats")


class NatsSubscription(Subscription):
    """One `subscribe` call: its own NATS subscription, lane and de-duplication window."""

    def __init__(
        self,
        owner: str,
        topic: str,
        handler: TopicHandler,
        *,
        capacity: int,
        max_payload: int,
        dedup_window: int,
        on_end: Callable[[NatsSubscription], None],
    ) -> None:
        self._owner = owner
        self._topic = topic
        self._max_payload = max_payload
        self._seen = RecentIds(dedup_window)
        self._lane: DeliveryLane[bytes] = DeliveryLane(
            handler, capacity=capacity, name=f"{owner} topic {topic}"
        )
        self._on_end = on_end
        self._handle: NatsSubscriptionHandle | None = None
        self._active = True
        self.dropped = 0
        """Publications lost because this subscription fell behind (its lane or NATS buffer)."""
        self.duplicates = 0
        """Publications received again along another path and not handled again."""
        self.rejected = 0
        """Messages on the topic subject that no NatsTransport published (no id, too large)."""

    def __repr__(self) -> str:
        return f"NatsSubscription({self._owner!r}, {self._topic!r})"

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def lane(self) -> DeliveryLane[bytes]:
        return self._lane

    @property
    def active(self) -> bool:
        return self._active

    def attach(self, handle: NatsSubscriptionHandle) -> None:
        self._handle = handle

    async def on_message(self, msg: Msg) -> None:
        """The NATS callback: drop what is malformed or seen, queue the rest."""
        if not self._active:
            return
        try:
            message_id = parse_message_id(msg.headers)
            if len(msg.data) > self._max_payload:
                raise Malformed(f"{len(msg.data)} bytes is over the maximum payload")
        except Malformed as exc:
            self.rejected += 1
            _log.warning(
                "%s dropped a message on topic subject %s: %s", self._owner, msg.subject, exc
            )
            return
        if not self._seen.add(message_id):
            self.duplicates += 1
            _log.debug("%s dropped duplicate publication %s", self._owner, message_id)
            return
        if not self._lane.offer(bytes(msg.data)):
            self.count_drop(len(self._lane))

    def count_drop(self, behind: int) -> None:
        self.dropped += 1
        _log.warning(
            "subscription %r of %s is %d messages behind; dropped a publication (%d so far)",
            self._topic,
            self._owner,
            behind,
            self.dropped,
        )

    def deactivate(self) -> NatsSubscriptionHandle | None:
        """Stop deliveries now (no handler call begins after this); return the NATS handle for
        the caller to unsubscribe, or None if already done."""
        if not self._active:
            return None
        self._active = False
        self._lane.close()
        self._on_end(self)
        handle, self._handle = self._handle, None
        return handle

    async def unsubscribe(self) -> None:
        handle = self.deactivate()
        if handle is not None:
            await unsubscribe_quietly(handle)


async def unsubscribe_quietly(handle: NatsSubscriptionHandle) -> None:
    """Unsubscribe; a connection that is closed or reconnecting has dropped the interest anyway."""
    try:
        await handle.unsubscribe()
    except NatsError as exc:
        _log.debug("unsubscribing %s: %s", handle.subject, exc)
