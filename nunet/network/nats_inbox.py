"""The receiving side of a NATS inbox: one lane per sender, acks on acceptance, answers to requests.

nats-py runs a subscription's callback serially, so the inbox callback only sorts messages into
per-sender lanes; handlers run from the lanes, and a slow sender holds up only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nunet.network.delivery import DeliveryLane
from nunet.network.nats_wire import Inbound, Kind, Status
from nunet.network.transport import InboxHandler

# One logger for the whole NATS transport, whatever module logs.
_log = logging.getLogger("nunet.network.nats")

Reply = Callable[[str, Status, bytes, str | None], Awaitable[None]]
"""Publishes an answer: reply subject, status, payload, reason. Never raises."""


@dataclass(frozen=True, slots=True)
class _Queued:
    message: Inbound
    deadline: float | None  # loop time after which the requester no longer waits


@dataclass(slots=True)
class _SenderQueue:
    """A sender's lane, and what waits for room in it (acks deferred: back-pressure)."""

    lane: DeliveryLane[_Queued]
    backlog: deque[_Queued] = field(default_factory=deque)


class InboxDispatcher:
    """Dispatches well-formed direct messages to the inbox handler with the contract's order.

    A sender's messages are handled in the order they arrived. A one-way message is acked once
    it is in the sender's lane (`capacity` messages); beyond that it waits in a backlog of as many
    again with its ack held back, so a well-behaved sender slows down; beyond both it is refused
    as busy. A request keeps its place but its handler runs as its own task.

    The sender named in a message's header is not authenticated (envelopes are, above this
    layer), so bounds per sender alone would let forged names multiply queues: at most
    `max_senders` senders may have messages waiting, and at most `max_queued_bytes` may wait in
    all; beyond either a message is refused as busy, naming the bound.
    """

    def __init__(
        self,
        address: str,
        handler: InboxHandler,
        reply: Reply,
        *,
        capacity: int,
        max_payload: int,
        max_senders: int = 4096,
        max_queued_bytes: int = 256 << 20,
    ) -> None:
        self._address = address
        self._handler = handler
        self._reply = reply
        self._capacity = capacity
        self._max_payload = max_payload
        self._max_senders = max_senders
        self._max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0  # of messages accepted and not yet handed to the handler
        self._queues: dict[str, _SenderQueue] = {}
        self._owed: set[str] = set()  # reply subjects of accepted messages not yet answered
        self._answering: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def senders(self) -> frozenset[str]:
        """Senders with messages queued or being handled now."""
        return frozenset(self._queues)

    async def accept(self, message: Inbound) -> None:
        if self._closed:
            await self._reply(message.reply, Status.UNREACHABLE, b"", None)
            return
        refusal = self._over_bounds(message)
        if refusal is not None:
            _log.warning("%s refused a message from %s: %s", self._address, message.sender, refusal)
            await self._reply(message.reply, Status.BUSY, b"", refusal)
            return
        loop = asyncio.get_running_loop()
        deadline = None if message.timeout is None else loop.time() + message.timeout
        item = _Queued(message, deadline)
        queue = self._queue_of(message.sender)
        size = len(message.data)
        if not queue.backlog and queue.lane.offer(item):
            self._queued_bytes += size
            if message.kind is Kind.REQUEST:
                self._owed.add(message.reply)
            else:
                await self._reply(message.reply, Status.ACK, b"", None)
        elif len(queue.backlog) < self._capacity:
            queue.backlog.append(item)
            self._queued_bytes += size
            self._owed.add(message.reply)
        else:
            _log.warning(
                "%s refused a message from %s: %d messages from it already wait",
                self._address,
                message.sender,
                len(queue.lane) + len(queue.backlog),
            )
            reason = f"{2 * self._capacity} messages from {message.sender} already wait"
            await self._reply(message.reply, Status.BUSY, b"", reason)

    def _over_bounds(self, message: Inbound) -> str | None:
        if message.sender not in self._queues and len(self._queues) >= self._max_senders:
            return f"{len(self._queues)} senders already have messages waiting here"
        if self._queued_bytes + len(message.data) > self._max_queued_bytes:
            return f"{self._queued_bytes} bytes of messages already wait here"
        return None

    def close(self) -> tuple[list[str], list[asyncio.Task[None]]]:
        """Accept nothing more; return the reply subjects still owed an answer and the tasks to
        cancel (running handlers and lane workers)."""
        self._closed = True
        owed = sorted(self._owed)
        self._owed.clear()
        tasks = list(self._answering)
        for queue in self._queues.values():
            queue.lane.close()
            queue.backlog.clear()
            if queue.lane.worker is not None:
                tasks.append(queue.lane.worker)
        self._queues.clear()
        self._queued_bytes = 0
        return owed, tasks

    def _queue_of(self, sender: str) -> _SenderQueue:
        queue = self._queues.get(sender)
        if queue is None:

            def drop_when_idle(idle: DeliveryLane[_Queued]) -> None:
                current = self._queues.get(sender)
                if (
                    current is not None
                    and current.lane is idle
                    and not idle
                    and not current.backlog
                ):
                    del self._queues[sender]

            lane: DeliveryLane[_Queued] = DeliveryLane(
                lambda item: self._deliver(sender, item),
                capacity=self._capacity,
                name=f"{sender} -> {self._address}",
                on_idle=drop_when_idle,
            )
            queue = self._queues[sender] = _SenderQueue(lane)
        return queue

    async def _deliver(self, sender: str, item: _Queued) -> None:
        self._queued_bytes -= len(item.message.data)  # handed over now
        # The lane just made room for one: the oldest waiting message takes it, in order.
        queue = self._queues.get(sender)
        if queue is not None and queue.backlog and queue.lane.offer(queue.backlog[0]):
            promoted = queue.backlog.popleft().message
            if promoted.kind is Kind.SEND:
                self._owed.discard(promoted.reply)
                await self._reply(promoted.reply, Status.ACK, b"", None)
        message = item.message
        if message.kind is Kind.SEND:
            try:
                await self._handler(message.data)
            except Exception:
                _log.exception(
                    "inbox handler of %s failed on a message from %s", self._address, sender
                )
            return
        if item.deadline is not None and asyncio.get_running_loop().time() > item.deadline:
            self._owed.discard(message.reply)  # the requester gave up while it was queued
            return
        task = asyncio.get_running_loop().create_task(
            self._answer(message), name=f"answer {sender}"
        )
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        await asyncio.sleep(0)  # let the handler begin before the next message from this sender

    async def _answer(self, message: Inbound) -> None:
        try:
            answer = await self._handler(message.data)
        except Exception:
            _log.exception(
                "inbox handler of %s failed on a request from %s", self._address, message.sender
            )
            await self._settle(message, Status.FAILED, b"", "its handler raised")
            return
        if answer is None:
            await self._settle(message, Status.FAILED, b"", "its handler returned no reply")
        elif len(answer) > self._max_payload:
            _log.error(
                "reply of %s to %s is %d bytes, over the maximum payload of %d; not sent",
                self._address,
                message.sender,
                len(answer),
                self._max_payload,
            )
            await self._settle(message, Status.FAILED, b"", "its reply was over max_payload")
        else:
            await self._settle(message, Status.OK, bytes(answer), None)

    async def _settle(
        self, message: Inbound, status: Status, data: bytes, reason: str | None
    ) -> None:
        if message.reply in self._owed:  # not when closing already answered it as unreachable
            self._owed.discard(message.reply)
            await self._reply(message.reply, status, data, reason)
