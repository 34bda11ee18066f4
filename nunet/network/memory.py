"""The in-memory transport: a real Transport whose medium is an object shared in one process.

Used for single-process swarms and fast tests. Nothing is global: each test or devstack makes its
own InMemoryNetwork and gives it to the transports that should see each other.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from nunet.network.delivery import DeliveryLane, LaneClosed
from nunet.network.errors import (
    AddressInUse,
    MessageTooLarge,
    PeerUnreachable,
    RequestFailed,
    RequestTimeout,
    TransportClosed,
    TransportError,
    TransportNotStarted,
)
from nunet.network.subjects import (
    is_wildcard,
    topic_matches,
    validate_address,
    validate_pattern,
    validate_topic,
)
from nunet.network.transport import (
    DEFAULT_MAX_PAYLOAD,
    InboxHandler,
    Subscription,
    TopicHandler,
    Transport,
)

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

DEFAULT_INBOX_BUFFER = 256
"""Messages one sender may have queued at one destination before `send` waits."""

DEFAULT_SUBSCRIPTION_BUFFER = 10_000
"""Messages one subscription may have queued before further publications to it are dropped."""


class InMemoryNetwork:
    """The shared medium: which addresses are live, and which subscriptions exist.

    Its methods are for InMemoryTransport; tests only construct it and may read `addresses`.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, InMemoryTransport] = {}
        self._literal: dict[str, list[_MemorySubscription]] = {}
        self._wildcard: list[_MemorySubscription] = []

    @property
    def addresses(self) -> frozenset[str]:
        """Addresses of the started, unclosed transports."""
        return frozenset(self._nodes)

    def attach(self, transport: InMemoryTransport) -> None:
        if transport.address in self._nodes:
            raise AddressInUse(
                f"a started transport already has address {transport.address!r} on this network"
            )
        self._nodes[transport.address] = transport

    def detach(self, transport: InMemoryTransport) -> None:
        if self._nodes.get(transport.address) is transport:
            del self._nodes[transport.address]

    def node(self, address: str) -> InMemoryTransport:
        try:
            return self._nodes[address]
        except KeyError:
            raise PeerUnreachable(f"no node answers at {address!r}") from None

    def add_subscription(self, subscription: _MemorySubscription) -> None:
        if is_wildcard(subscription.topic):
            self._wildcard.append(subscription)
        else:
            self._literal.setdefault(subscription.topic, []).append(subscription)

    def remove_subscription(self, subscription: _MemorySubscription) -> None:
        if is_wildcard(subscription.topic):
            self._wildcard.remove(subscription)
            return
        group = self._literal[subscription.topic]
        group.remove(subscription)
        if not group:
            del self._literal[subscription.topic]

    def subscriptions_matching(self, topic: str) -> Iterator[_MemorySubscription]:
        # Copies, because a delivery may subscribe or unsubscribe while we iterate.
        yield from list(self._literal.get(topic, ()))
        yield from [s for s in self._wildcard if topic_matches(s.topic, topic)]


@dataclass(frozen=True, slots=True)
class _Inbound:
    """A message on its way into an inbox; `reply` is set when the sender awaits an answer."""

    sender: str
    data: bytes
    reply: asyncio.Future[bytes] | None


class _MemorySubscription(Subscription):
    def __init__(
        self, owner: InMemoryTransport, topic: str, handler: TopicHandler, capacity: int
    ) -> None:
        self._owner = owner
        self._topic = topic
        self._handler = handler
        self._lane: DeliveryLane[bytes] = DeliveryLane(
            handler, capacity=capacity, name=f"{owner.address} topic {topic}"
        )
        self._active = True
        self.dropped = 0
        """Publications not delivered because this subscription's buffer was full."""

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def lane(self) -> DeliveryLane[bytes]:
        return self._lane

    def offer(self, data: bytes) -> None:
        if not self._active:
            return
        if not self._lane.offer(data):
            self.dropped += 1
            _log.warning(
                "subscription %r of %s is %d messages behind; dropped a publication (%d so far)",
                self._topic,
                self._owner.address,
                len(self._lane),
                self.dropped,
            )

    def deactivate(self) -> None:
        if self._active:
            self._active = False
            self._owner.forget(self)
            self._lane.close()

    async def unsubscribe(self) -> None:
        self.deactivate()


class _Phase(enum.Enum):
    NEW = "new"
    STARTED = "started"
    CLOSED = "closed"


class InMemoryTransport(Transport):
    """A node on an InMemoryNetwork.

    Direct messages travel through one bounded lane per (sender, destination): one-way messages
    from a sender are handled one at a time in order, and `send` waits when the lane is full.
    Requests keep their place in the lane but their handler runs as its own task, so a handler
    may itself make requests (even back to its requester) without deadlock.
    Publications go through one lane per subscription; when it is full they are dropped and
    logged, as NATS does for a slow consumer, so one slow subscriber never stalls a publisher.
    """

    def __init__(
        self,
        network: InMemoryNetwork,
        address: str,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        inbox_buffer: int = DEFAULT_INBOX_BUFFER,
        subscription_buffer: int = DEFAULT_SUBSCRIPTION_BUFFER,
    ) -> None:
        if max_payload < 1:
            raise ValueError(f"max_payload must be positive, not {max_payload}")
        if inbox_buffer < 1 or subscription_buffer < 1:
            raise ValueError("inbox_buffer and subscription_buffer must be positive")
        self._network = network
        self._address = validate_address(address)
        self._max_payload = max_payload
        self._inbox_buffer = inbox_buffer
        self._subscription_buffer = subscription_buffer
        self._phase = _Phase.NEW
        self._inbox: InboxHandler | None = None
        self._closed: asyncio.Future[None] | None = None
        self._lanes: dict[str, DeliveryLane[_Inbound]] = {}
        self._subscriptions: set[_MemorySubscription] = set()
        self._awaiting: set[asyncio.Future[bytes]] = set()  # replies this node waits for
        self._answering: set[asyncio.Future[bytes]] = set()  # replies peers wait for
        self._handlers: set[asyncio.Task[None]] = set()  # running request handlers

    def __repr__(self) -> str:
        return f"InMemoryTransport({self._address!r}, {self._phase.value})"

    @property
    def address(self) -> str:
        return self._address

    @property
    def max_payload(self) -> int:
        return self._max_payload

    async def start(self, inbox: InboxHandler) -> None:
        if self._phase is _Phase.CLOSED:
            raise TransportClosed(f"{self._address} was closed; make a new transport")
        if self._phase is _Phase.STARTED:
            raise TransportError(f"{self._address} is already started")
        self._network.attach(self)
        self._inbox = inbox
        self._closed = asyncio.get_running_loop().create_future()
        self._phase = _Phase.STARTED

    async def close(self) -> None:
        if self._phase is _Phase.CLOSED:
            return
        was_started = self._phase is _Phase.STARTED
        self._phase = _Phase.CLOSED
        if not was_started:
            return
        self._network.detach(self)
        assert self._closed is not None
        self._closed.set_result(None)
        for reply in self._awaiting:
            _fail(reply, TransportClosed(f"{self._address} was closed while awaiting a reply"))
        for reply in self._answering:
            _fail(reply, PeerUnreachable(f"{self._address} closed before replying"))
        tasks: list[asyncio.Task[None]] = list(self._handlers)
        for subscription in list(self._subscriptions):
            subscription.deactivate()
            tasks.extend(_worker_of(subscription.lane))
        for lane in self._lanes.values():
            lane.close()
            tasks.extend(_worker_of(lane))
        self._lanes.clear()
        current = asyncio.current_task()
        tasks = [task for task in tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def send(self, address: str, data: bytes) -> None:
        self._check_outgoing(data)
        peer = self._network.node(validate_address(address))
        await self._deliver(peer, _Inbound(self._address, data, None))

    async def request(self, address: str, data: bytes, *, timeout: float) -> bytes:
        if not timeout > 0:
            raise ValueError(f"a request timeout must be positive, not {timeout}")
        self._check_outgoing(data)
        peer = self._network.node(validate_address(address))
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._awaiting.add(reply)
        try:
            async with asyncio.timeout(timeout):
                await self._deliver(peer, _Inbound(self._address, data, reply))
                return await reply
        except TimeoutError:
            raise RequestTimeout(f"{address} did not reply within {timeout} s") from None
        finally:
            self._awaiting.discard(reply)
            if reply.done() and not reply.cancelled():
                reply.exception()  # retrieved, even when another error was raised first
            reply.cancel()  # tells the peer nobody waits any more; no-op once done

    async def publish(self, topic: str, data: bytes) -> None:
        self._check_outgoing(data)
        for subscription in self._network.subscriptions_matching(validate_topic(topic)):
            subscription.offer(data)

    async def subscribe(self, topic: str, handler: TopicHandler) -> Subscription:
        self._check_open()
        subscription = _MemorySubscription(
            self, validate_pattern(topic), handler, self._subscription_buffer
        )
        self._network.add_subscription(subscription)
        self._subscriptions.add(subscription)
        return subscription

    # --- used by peers and subscriptions on the same network ---

    def lane_from(self, sender: str) -> DeliveryLane[_Inbound]:
        """The lane messages from `sender` queue in; raises PeerUnreachable unless started."""
        if self._phase is not _Phase.STARTED:
            raise PeerUnreachable(f"no node answers at {self._address!r}")
        lane = self._lanes.get(sender)
        if lane is None:

            def drop_when_idle(idle: DeliveryLane[_Inbound]) -> None:
                if self._lanes.get(sender) is idle and not idle:
                    del self._lanes[sender]

            lane = DeliveryLane(
                self._dispatch,
                capacity=self._inbox_buffer,
                name=f"{sender} -> {self._address}",
                on_idle=drop_when_idle,
            )
            self._lanes[sender] = lane
        return lane

    def forget(self, subscription: _MemorySubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.discard(subscription)
            self._network.remove_subscription(subscription)

    # --- internals ---

    def _check_open(self) -> None:
        if self._phase is _Phase.NEW:
            raise TransportNotStarted(f"start {self._address} before using it")
        if self._phase is _Phase.CLOSED:
            raise TransportClosed(f"{self._address} is closed")

    def _check_outgoing(self, data: bytes) -> None:
        self._check_open()
        if len(data) > self._max_payload:
            raise MessageTooLarge(
                f"{len(data)} bytes is over the maximum payload of {self._max_payload} bytes"
            )

    async def _deliver(self, peer: InMemoryTransport, message: _Inbound) -> None:
        lane = peer.lane_from(self._address)
        try:
            if not lane.offer(message):  # full: wait for room, unless one of us closes
                await self._unless_closed(lane.put(message))
        except LaneClosed:
            raise PeerUnreachable(f"{peer.address} closed") from None

    async def _unless_closed(self, operation: Awaitable[_T]) -> _T:
        """Run `operation`, but raise TransportClosed as soon as this transport closes."""
        assert self._closed is not None
        task: asyncio.Future[_T] = asyncio.ensure_future(operation)
        waiting: set[asyncio.Future[Any]] = {task, self._closed}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.cancelled() or not task.done():
            raise TransportClosed(f"{self._address} was closed")
        return task.result()

    async def _dispatch(self, message: _Inbound) -> None:
        assert self._inbox is not None
        if message.reply is None:
            try:
                await self._inbox(message.data)
            except Exception:
                _log.exception(
                    "inbox handler of %s failed on a message from %s",
                    self._address,
                    message.sender,
                )
            return
        if message.reply.done():  # the requester gave up while the request was queued
            return
        self._answering.add(message.reply)
        task = asyncio.get_running_loop().create_task(
            self._answer(message, message.reply), name=f"answer {message.sender}"
        )
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        await asyncio.sleep(0)  # let the handler begin before the next message from this sender

    async def _answer(self, message: _Inbound, reply: asyncio.Future[bytes]) -> None:
        assert self._inbox is not None
        try:
            answer = await self._inbox(message.data)
        except Exception:
            _log.exception(
                "inbox handler of %s failed on a request from %s", self._address, message.sender
            )
            _fail(reply, RequestFailed(f"{self._address} failed to handle the request"))
            return
        finally:
            self._answering.discard(reply)
        if answer is None:
            _fail(reply, RequestFailed(f"{self._address} handled the request but sent no reply"))
        elif len(answer) > self._max_payload:
            _log.error(
                "reply of %s to %s is %d bytes, over the maximum payload of %d; not sent",
                self._address,
                message.sender,
                len(answer),
                self._max_payload,
            )
            _fail(reply, RequestFailed(f"the reply of {self._address} was too large to send"))
        elif not reply.done():
            reply.set_result(bytes(answer))


def _fail(reply: asyncio.Future[bytes], error: Exception) -> None:
    if not reply.done():
        reply.set_exception(error)


def _worker_of(lane: DeliveryLane[_T]) -> list[asyncio.Task[None]]:
    return [] if lane.worker is None else [lane.worker]
