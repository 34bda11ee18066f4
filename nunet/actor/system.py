"""The actor system of one node: registry, routing, receipt checks, and the envelope trace in the log.

Envelopes between actors of this node are handed over in memory (they cannot be forged or
replayed there, so they are not signed); envelopes to other nodes are sealed with the sending
actor's key and leave through the transport; envelopes from the transport are unsealed,
checked by the guard and only then queued for their actor. Every one of them is an event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec
import structlog

from nunet.actor.actor import Actor
from nunet.actor.behavior import Behavior
from nunet.actor.cancel import cancel_and_wait, where
from nunet.actor.deadlines import Deadlines
from nunet.actor.envelope import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    NonceSource,
    canonical_body,
    peek_sender,
    seal,
    unseal,
)
from nunet.actor.errors import (
    ActorError,
    EnvelopeRejected,
    EnvelopeTooLarge,
    MisaddressedEnvelope,
    RateLimited,
    ReplayedEnvelope,
    UnknownActor,
    UnknownBehavior,
)
from nunet.actor.events import (
    ActorFailed,
    ActorStarted,
    ActorStopped,
    EnvelopeDelivered,
    EnvelopeReceived,
    EnvelopeRefused,
    EnvelopeSent,
)
from nunet.actor.guard import EnvelopeGuard
from nunet.actor.handle import Handle
from nunet.eventlog import Event, EventLog
from nunet.identity import KeyPair
from nunet.network import RequestFailed, RequestTimeout, Subscription, Transport

log = structlog.get_logger("nunet.actor")

STOP_GRACE_SECONDS = 5.0
"""How long `stop` waits for an actor's mailbox to end after cancelling it."""


ExitCallback = Callable[[str, BaseException | None], Awaitable[None]]
ProofSource = Callable[[str, str | None], tuple[bytes, ...]]
"""(behavior, topic) -> capability proofs to attach to an outgoing envelope of the node key."""

# Refusals answered to the sender (when it asked for a reply): the sender is authenticated and
# learns why. Replays and rate limits are not answered, so the node cannot be used to amplify.
_SILENT_REFUSALS = (ReplayedEnvelope, RateLimited)


@dataclass(eq=False)
class _Running:
    actor: Actor
    key: KeyPair
    on_exit: ExitCallback | None
    parent: str | None = None
    task: asyncio.Task[None] | None = None
    topics: set[str] = field(default_factory=set)


class ActorSystem:
    """Hosts the actors of one node and moves their envelopes."""

    def __init__(
        self,
        key: KeyPair,
        transport: Transport,
        log: EventLog,
        guard: EnvelopeGuard,
        *,
        proofs: ProofSource | None = None,
        clock: Callable[[], int] = time.time_ns,
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        refused_data_limit: int = 64 * 1024,
    ) -> None:
        self.key = key
        self._transport = transport
        self._log = log
        self._guard = guard
        self._proofs = proofs
        self._clock = clock
        self._max_envelope = max_envelope_bytes
        self._refused_limit = refused_data_limit
        self._actors: dict[str, _Running] = {}
        self._topics: dict[str, set[str]] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Questions that arrived as transport requests, by (asker, reply behavior): the sealed
        # answer goes back as the request's reply instead of as a message of its own.
        self._answers: dict[tuple[str, str], asyncio.Future[bytes]] = {}
        self.next_nonce = NonceSource()
        self.deadlines = Deadlines()

    @property
    def address(self) -> str:
        return self._transport.address

    @property
    def event_log(self) -> EventLog:
        return self._log

    async def start(self) -> None:
        await self._transport.start(self._receive_direct)

    async def close(self) -> None:
        # Top-level actors first, newest first; supervisors stop their own children.
        for actor_id in reversed([a for a, r in self._actors.items() if r.parent is None]):
            await self.stop(actor_id)
        for actor_id in reversed(list(self._actors)):
            await self.stop(actor_id)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for subscription in self._subscriptions.values():
            await subscription.unsubscribe()
        self._subscriptions.clear()
        await self._transport.close()

    # -- actors ------------------------------------------------------------------------------
    async def spawn(
        self,
        actor: Actor,
        actor_id: str,
        *,
        key: KeyPair | None = None,
        on_exit: ExitCallback | None = None,
        parent: str | None = None,
    ) -> Handle:
        """Register and start an actor; `on_exit` learns when it stops or fails (supervisors),
        `parent` names the supervisor that stops it when the system closes."""
        if actor_id in self._actors:
            raise ActorError(f"an actor with id {actor_id!r} is already running")
        running = _Running(actor, key or self.key, on_exit, parent)
        handle = Handle(running.key.did, actor_id, self.address)
        actor.bind(self, handle)
        self._actors[actor_id] = running
        try:
            await actor.on_start()
        except BaseException:
            del self._actors[actor_id]
            raise
        task = asyncio.create_task(actor.run(), name=f"actor:{actor_id}")
        running.task = task
        task.add_done_callback(lambda t: self._on_task_done(actor_id, running, t))
        self._record(ActorStarted(actor=actor_id, kind=actor.kind), actor_id)
        return handle

    async def stop(self, actor_id: str) -> None:
        """Stop an actor on purpose: it leaves its topics, finishes no more messages, runs on_stop."""
        running = self._actors.pop(actor_id, None)
        if running is None:
            return
        for topic in list(running.topics):
            await self._leave_topic(actor_id, topic)
        if running.task is not None:
            running.task.cancel()
            # wait() rather than awaiting the task: its CancelledError is not ours to swallow,
            # and a cancellation of the stopping task itself must still propagate.
            if await cancel_and_wait((running.task,), grace=STOP_GRACE_SECONDS):
                log.warning(  # a handler that ignores cancellation must not hold the stop up
                    "actor ignored its cancellation", actor=actor_id, where=where(running.task)
                )
        try:
            await running.actor.on_stop()
            await running.actor.cancel_tasks()
        finally:
            self._record(ActorStopped(actor=actor_id), actor_id)
            if running.on_exit is not None:
                await running.on_exit(actor_id, None)

    def actor(self, actor_id: str) -> Actor | None:
        running = self._actors.get(actor_id)
        return running.actor if running else None

    def actor_ids(self) -> list[str]:
        return list(self._actors)

    def handle_of(self, actor_id: str) -> Handle:
        running = self._actors.get(actor_id)
        if running is None:
            raise UnknownActor(f"no actor {actor_id!r} on this node")
        return running.actor.handle

    def _on_task_done(self, actor_id: str, running: _Running, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if self._actors.get(actor_id) is running:
            del self._actors[actor_id]
        self._spawn_background(self._after_failure(actor_id, running, error))

    async def _after_failure(self, actor_id: str, running: _Running, error: BaseException) -> None:
        log.warning("actor failed", actor=actor_id, error=repr(error))
        for topic in list(running.topics):
            await self._leave_topic(actor_id, topic)
        try:
            await running.actor.on_failure(error)
            await running.actor.cancel_tasks()
        finally:
            self._record(ActorFailed(actor=actor_id, error=repr(error)), actor_id)
            if running.on_exit is not None:
                await running.on_exit(actor_id, error)

    # -- topics ------------------------------------------------------------------------------
    async def subscribe(self, actor_id: str, topic: str) -> None:
        running = self._actors.get(actor_id)
        if running is None:
            raise UnknownActor(f"no actor {actor_id!r} on this node")
        if topic not in self._subscriptions:
            self._subscriptions[topic] = await self._transport.subscribe(topic, self._receive_topic)
        self._topics.setdefault(topic, set()).add(actor_id)
        running.topics.add(topic)

    async def unsubscribe(self, actor_id: str, topic: str) -> None:
        running = self._actors.get(actor_id)
        if running is not None:
            running.topics.discard(topic)
        await self._leave_topic(actor_id, topic)

    async def _leave_topic(self, actor_id: str, topic: str) -> None:
        members = self._topics.get(topic)
        if members is None:
            return
        members.discard(actor_id)
        if not members:
            del self._topics[topic]
            subscription = self._subscriptions.pop(topic, None)
            if subscription is not None:
                await subscription.unsubscribe()

    # -- sending -----------------------------------------------------------------------------
    async def deliver(self, envelope: Envelope) -> None:
        """Route an envelope from one of this node's actors to its recipient, here or remote."""
        if envelope.recipient.node == self.address:
            await self._accept_local(envelope)
            return
        data = self._sealed_for_transport(envelope)
        if envelope.in_reply_to is not None:
            waiting = self._answers.pop((str(envelope.recipient), envelope.behavior), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(data)  # the answer rides back on the asker's request
                return
        await self._transport.send(envelope.recipient.node, data)

    async def ask(self, envelope: Envelope, timeout: float) -> None:
        """Deliver a question (an envelope with `reply_to`), and for another node's actor, as one
        transport request whose reply is the sealed answer: two messages on the wire, not four.

        The answer is checked like any received envelope and so settles the asker's reply
        behavior. No answer within `timeout` is not an error here: the asker's own deadline
        reports it, as it does for an answer that never comes by any path.
        """
        if envelope.recipient.node == self.address:
            await self._accept_local(envelope)
            return
        data = self._sealed_for_transport(envelope)
        try:
            answer = await self._transport.request(envelope.recipient.node, data, timeout=timeout)
        except (RequestTimeout, RequestFailed) as exc:
            log.debug("question unanswered", behavior=envelope.behavior, reason=str(exc))
            return
        reply = self._unseal(answer)
        if reply is not None:
            await self._accept_remote(reply, answer)

    def _sealed_for_transport(self, envelope: Envelope) -> bytes:
        data = self._seal(envelope)
        if len(data) > self._max_envelope:
            # Refused here, where the caller can act on it, not as silence at the receiver.
            raise EnvelopeTooLarge(
                f"envelope of {len(data)} bytes to {envelope.recipient} exceeds the limit of "
                f"{self._max_envelope} (max_envelope_bytes)"
            )
        self._record(
            EnvelopeSent(
                recipient_node=envelope.recipient.node, behavior=envelope.behavior, sealed=data
            ),
            str(envelope.sender),
        )
        return data

    async def publish(self, envelope: Envelope) -> None:
        """Broadcast: local subscribers get it in memory, the swarm through the transport."""
        topic = envelope.topic
        if topic is None:
            raise ActorError("a broadcast envelope needs a topic")
        now = self._clock()
        try:
            self._guard.admit_local(envelope, now)  # once per broadcast, not per subscriber
        except EnvelopeRejected as exc:
            self._refused(exc, envelope, b"")
            raise
        for actor_id in list(self._topics.get(topic, ())):
            try:
                running, target = self._route(envelope, actor_id)
                self._guard.authorize(envelope, target, now)
            except EnvelopeRejected as exc:
                self._refused(exc, envelope, b"")
                continue
            await self._hand_over(running, envelope, target)
        data = self._seal(envelope)
        self._record(
            EnvelopeSent(recipient_node=f"topic:{topic}", behavior=envelope.behavior, sealed=data),
            str(envelope.sender),
        )
        await self._transport.publish(topic, data)

    def _seal(self, envelope: Envelope) -> bytes:
        running = self._actors.get(envelope.sender.actor)
        key = running.key if running is not None else self.key
        if self._proofs is not None and key.did == self.key.did and not envelope.capability:
            proofs = self._proofs(envelope.behavior, envelope.topic)
            if proofs:
                envelope = msgspec.structs.replace(envelope, capability=proofs)
        return seal(envelope, key)

    # -- receiving ---------------------------------------------------------------------------
    async def _accept_local(self, envelope: Envelope) -> None:
        now = self._clock()
        try:
            running, target = self._route(envelope, envelope.recipient.actor)
            self._guard.admit_local(envelope, now)
            self._guard.authorize(envelope, target, now)
        except EnvelopeRejected as exc:
            # Never on the wire, so the refusal keeps the envelope's canonical body instead.
            self._refused(exc, envelope, canonical_body(envelope))
            await self._answer_refusal(envelope, exc)
            return
        self._record(EnvelopeDelivered(envelope=envelope), str(envelope.sender))
        await self._hand_over(running, envelope, target)

    async def _receive_direct(self, data: bytes) -> bytes | None:
        envelope = self._unseal(data)
        if envelope is None:
            return None
        if envelope.reply_to is None or envelope.in_reply_to is not None:
            await self._accept_remote(envelope, data)
            return None
        # A question: its answer (or the refusal) is the reply to the transport request.
        key = (str(envelope.sender), envelope.reply_to)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        try:
            if not await self._accept_remote(envelope, data) and not answer.done():
                return None  # refused without an answer (replay, rate limit)
            remaining = (envelope.expires_at - self._clock()) / 1e9
            async with asyncio.timeout(max(remaining, 0.0)):
                return await answer
        except TimeoutError:
            return None
        finally:
            if self._answers.get(key) is answer:
                del self._answers[key]

    async def _accept_remote(self, envelope: Envelope, data: bytes) -> bool:
        """Check an envelope from another node and queue it for its actor; False if refused."""
        now = self._clock()
        try:
            if envelope.recipient.node != self.address:
                raise MisaddressedEnvelope(
                    f"envelope for node {envelope.recipient.node} arrived at {self.address}"
                )
            self._guard.admit_remote(envelope, now)
            running, target = self._route(envelope, envelope.recipient.actor)
            self._guard.authorize(envelope, target, now)
        except EnvelopeRejected as exc:
            self._refused(exc, envelope, data)
            await self._answer_refusal(envelope, exc)
            return False
        self._record(
            EnvelopeReceived(
                sender_did=envelope.sender.did, behavior=envelope.behavior, sealed=data
            ),
            str(envelope.sender),
        )
        await self._hand_over(running, envelope, target)
        return True

    async def _receive_topic(self, data: bytes) -> None:
        envelope = self._unseal(data)
        if envelope is None or envelope.sender.node == self.address:
            return  # our own broadcast, already delivered in memory
        now = self._clock()
        try:
            if envelope.topic is None:
                raise MisaddressedEnvelope("a broadcast envelope arrived without a topic")
            self._guard.admit_remote(envelope, now)
        except EnvelopeRejected as exc:
            self._refused(exc, envelope, data)
            return
        self._record(
            EnvelopeReceived(
                sender_did=envelope.sender.did, behavior=envelope.behavior, sealed=data
            ),
            str(envelope.sender),
        )
        for actor_id in list(self._topics.get(envelope.topic, ())):
            try:
                running, target = self._route(envelope, actor_id)
                self._guard.authorize(envelope, target, now)
            except EnvelopeRejected as exc:
                self._refused(exc, envelope, b"")
                continue
            await self._hand_over(running, envelope, target)

    def _unseal(self, data: bytes) -> Envelope | None:
        try:
            return unseal(data, max_size=self._max_envelope)
        except EnvelopeRejected as exc:
            sender, behavior = peek_sender(data[: self._max_envelope])
            self._record(
                EnvelopeRefused(
                    code=exc.code,
                    reason=str(exc),
                    claimed_sender=sender,
                    behavior=behavior,
                    size=len(data),
                    data=data[: self._refused_limit],
                ),
                "",
            )
            log.warning("envelope refused", code=exc.code, reason=str(exc), sender=sender)
            return None

    def _route(self, envelope: Envelope, actor_id: str) -> tuple[_Running, Behavior]:
        running = self._actors.get(actor_id)
        if running is None:
            raise UnknownActor(f"no actor {actor_id!r} on this node")
        target = running.actor.behaviors.get(envelope.behavior)
        if target is None:
            raise UnknownBehavior(f"actor {actor_id!r} has no behavior {envelope.behavior}")
        return running, target

    async def _hand_over(self, running: _Running, envelope: Envelope, target: Behavior) -> None:
        if target.one_shot:
            running.actor.behaviors.remove(target.path)
        settles = target.settles
        if settles is not None:
            if not settles.done():
                settles.set_result(envelope.payload)
        elif not running.actor.try_enqueue(envelope, target):
            await running.actor.enqueue_wait(envelope, target)

    def _refused(self, exc: EnvelopeRejected, envelope: Envelope, data: bytes) -> None:
        self._record(
            EnvelopeRefused(
                code=exc.code,
                reason=str(exc),
                claimed_sender=envelope.sender.did,
                behavior=envelope.behavior,
                size=len(data),
                data=data[: self._refused_limit],
            ),
            str(envelope.sender),
        )
        log.info("envelope refused", code=exc.code, reason=str(exc), sender=str(envelope.sender))

    async def _answer_refusal(self, envelope: Envelope, exc: EnvelopeRejected) -> None:
        if envelope.reply_to is None or envelope.in_reply_to is not None:
            return  # nothing asked, or it was itself an answer
        if isinstance(exc, _SILENT_REFUSALS):
            return
        reply = Envelope.create(
            Handle(self.key.did, envelope.recipient.actor, self.address),
            envelope.sender,
            envelope.reply_to,
            {"error": {"code": exc.code, "message": str(exc)}},
            in_reply_to=envelope.nonce,
            trace=envelope.trace,
            nonce=self.next_nonce(),
        )
        try:
            await self.deliver(reply)
        except Exception as error:  # the refusal is logged already; a failed answer is not fatal
            log.info("could not answer refusal", error=repr(error))

    # -- the log -----------------------------------------------------------------------------
    def _record(self, event: Event, actor: str) -> None:
        self._log.append_nowait(event, actor=actor)

    def _spawn_background(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
