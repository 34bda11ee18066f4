"""The actor: a mailbox, a table of behaviors, and lifecycle hooks. All I/O goes through its system."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec
import structlog

from nunet.actor.behavior import Behavior, BehaviorTable, Handler, Message
from nunet.actor.cancel import cancel_and_wait, where
from nunet.actor.envelope import DEFAULT_EXPIRY_SECONDS, Envelope
from nunet.actor.errors import ActorError, ActorStopped, BehaviorFailed, InvokeTimeout, RemoteError
from nunet.actor.handle import BROADCAST, Handle
from nunet.actor.mailbox import Mailbox
from nunet.actor.trace import current_trace, outgoing_trace

if TYPE_CHECKING:
    from nunet.actor.system import ActorSystem

log = structlog.get_logger("nunet.actor")

TASKS_GRACE_SECONDS = 5.0
"""How long stopping an actor cancels its tasks before leaving one that will not end."""

REPLY_PREFIX = "/dms/actor/replyto/"
DEFAULT_INVOKE_TIMEOUT = 10.0
MAILBOX_SIZE = 1024

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class _BehaviorSpec:
    path: str
    payload_type: Any
    public: bool


def behavior(path: str, *, payload_type: Any = None, public: bool = False) -> Callable[[F], F]:
    """Declare a method `async def m(self, message: Message) -> reply` as a behavior of its actor class."""

    def mark(method: F) -> F:
        method.__nunet_behavior__ = _BehaviorSpec(path, payload_type, public)  # type: ignore[attr-defined]
        return method

    return mark


class Actor:
    """Base class of every actor. Subclasses declare behaviors with `@behavior(path)` and may
    override `on_start`, `on_stop` and `on_failure`.

    Behaviors named in `beside_mailbox` (ones that wait on the network or run long) are handled
    in a task beside the mailbox, so the messages behind them are not held up; at most
    `max_beside` at once, beyond that they queue like any message. Such tasks, and any started
    with `spawn_task`, are cancelled when the actor stops or fails.
    """

    kind = "actor"
    beside_mailbox: ClassVar[frozenset[str]] = frozenset()
    max_beside: ClassVar[int] = 32

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._beside: set[asyncio.Task[Any]] = set()
        self.behaviors = BehaviorTable()
        self._mailbox: Mailbox[tuple[Envelope, Behavior]] = Mailbox(MAILBOX_SIZE)
        self._system: ActorSystem | None = None
        self._handle: Handle | None = None
        for name in dir(type(self)):
            spec = getattr(getattr(type(self), name), "__nunet_behavior__", None)
            if isinstance(spec, _BehaviorSpec):
                self.behaviors.add(
                    Behavior(spec.path, getattr(self, name), spec.payload_type, spec.public)
                )

    # -- lifecycle hooks -------------------------------------------------------------------
    async def on_start(self) -> None:
        """Called once the actor is registered, before its first message."""

    async def on_stop(self) -> None:
        """Called when the actor is stopped on purpose."""

    async def on_failure(self, error: BaseException) -> None:
        """Called when a handler raised unexpectedly, before the supervisor decides."""

    # -- identity --------------------------------------------------------------------------
    @property
    def handle(self) -> Handle:
        if self._handle is None:
            raise ActorStopped(f"{type(self).__name__} is not running in an actor system")
        return self._handle

    @property
    def system(self) -> ActorSystem:
        if self._system is None:
            raise ActorStopped(f"{type(self).__name__} is not running in an actor system")
        return self._system

    def bind(self, system: ActorSystem, handle: Handle) -> None:
        self._system, self._handle = system, handle

    # -- messaging -------------------------------------------------------------------------
    def add_behavior(
        self,
        path: str,
        handler: Handler,
        *,
        payload_type: Any = None,
        public: bool = False,
        one_shot: bool = False,
        senders: frozenset[str] | None = None,
    ) -> None:
        self.behaviors.add(Behavior(path, handler, payload_type, public, one_shot, senders))

    def remove_behavior(self, path: str) -> None:
        self.behaviors.remove(path)

    async def send(
        self,
        to: Handle,
        behavior_path: str,
        payload: Any = None,
        *,
        expiry: float = DEFAULT_EXPIRY_SECONDS,
        trace: str | None = None,
    ) -> None:
        """One-way message."""
        envelope = Envelope.create(
            self.handle,
            to,
            behavior_path,
            payload,
            expiry=expiry,
            trace=outgoing_trace(trace),
            nonce=self.system.next_nonce(),
        )
        await self.system.deliver(envelope)

    async def invoke(
        self,
        to: Handle,
        behavior_path: str,
        payload: Any = None,
        *,
        timeout: float = DEFAULT_INVOKE_TIMEOUT,
        trace: str | None = None,
    ) -> Any:
        """Request/reply: registers a one-shot reply behavior, sends, waits up to `timeout`."""
        system = self.system
        nonce = system.next_nonce()
        reply_path = REPLY_PREFIX + nonce.hex()
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.behaviors.add(
            Behavior(reply_path, None, one_shot=True, senders=frozenset((to.did,)), settles=reply)
        )
        envelope = Envelope.create(
            self.handle,
            to,
            behavior_path,
            payload,
            expiry=max(timeout, 1.0),
            reply_to=reply_path,
            trace=outgoing_trace(trace),
            nonce=nonce,
        )
        ticket = system.deadlines.watch(reply, timeout)
        try:
            await system.ask(envelope, timeout)
            answer = await reply
        except TimeoutError:
            raise InvokeTimeout(
                f"no reply to {behavior_path} from {to} within {timeout:g}s"
            ) from None
        finally:
            system.deadlines.forget(reply, ticket)
            self.behaviors.remove(reply_path)
        return unpack_reply(answer)

    async def publish(
        self,
        topic: str,
        behavior_path: str,
        payload: Any = None,
        *,
        expiry: float = 30.0,
        trace: str | None = None,
    ) -> None:
        """Broadcast to every actor subscribed to `topic`, on this node and across the swarm."""
        envelope = Envelope.create(
            self.handle,
            BROADCAST,
            behavior_path,
            payload,
            expiry=expiry,
            topic=topic,
            trace=outgoing_trace(trace),
            nonce=self.system.next_nonce(),
        )
        await self.system.publish(envelope)

    async def subscribe(self, topic: str) -> None:
        await self.system.subscribe(self.handle.actor, topic)

    async def unsubscribe(self, topic: str) -> None:
        await self.system.unsubscribe(self.handle.actor, topic)

    # -- the mailbox loop (driven by the system) ---------------------------------------------
    def try_enqueue(self, envelope: Envelope, target: Behavior) -> bool:
        """Queue a message if the mailbox has room; False if it is full."""
        if self._mailbox.full():
            return False
        self._mailbox.put_nowait((envelope, target))
        return True

    async def enqueue_wait(self, envelope: Envelope, target: Behavior) -> None:
        """Queue a message, waiting while the mailbox is full (back-pressure on the sender)."""
        await self._mailbox.put((envelope, target))

    async def run(self) -> None:
        """Process the mailbox one message at a time until cancelled or a handler fails."""
        while True:
            envelope, target = await self._mailbox.get()
            if target.path in self.beside_mailbox and len(self._beside) < self.max_beside:
                task = self.spawn_task(self._dispatch_beside(envelope, target))
                self._beside.add(task)
                task.add_done_callback(self._beside.discard)
                continue
            await self.dispatch(envelope, target)

    async def _dispatch_beside(self, envelope: Envelope, target: Behavior) -> None:
        try:
            await self.dispatch(envelope, target)
        except Exception as exc:  # answered as "internal" already; the actor carries on
            log.warning("behavior beside the mailbox failed", behavior=target.path, error=repr(exc))

    # -- tasks of the actor ----------------------------------------------------------------
    def spawn_task(
        self, work: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """A task that belongs to this actor: cancelled when it stops or fails."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_tasks(self) -> None:
        """Cancel the actor's tasks and wait for them (the runtime does it at stop and failure);
        one that still runs after `TASKS_GRACE_SECONDS` of repeated cancellation is logged and
        left behind rather than holding the stop up."""
        for task in await cancel_and_wait(list(self._tasks), grace=TASKS_GRACE_SECONDS):
            log.warning("task ignored its cancellation", actor=str(self.handle), where=where(task))

    async def dispatch(self, envelope: Envelope, target: Behavior) -> None:
        try:
            payload = (
                envelope.payload
                if target.payload_type is None
                else msgspec.convert(envelope.payload, target.payload_type, strict=False)
            )
        except msgspec.ValidationError as exc:
            await self._answer(envelope, error=("invalid-payload", f"{envelope.behavior}: {exc}"))
            return
        assert target.handler is not None  # reply behaviors are settled, never queued
        context = current_trace.set(envelope.trace)
        try:
            result = await target.handler(Message(envelope, payload))
        except (BehaviorFailed, RemoteError) as exc:
            await self._answer(envelope, error=(exc.code, str(exc)))
            return
        except ActorError as exc:
            await self._answer(envelope, error=(exc.code, str(exc)))
            return
        except Exception as exc:
            await self._answer(envelope, error=("internal", f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            current_trace.reset(context)
        await self._answer(envelope, result=result)

    async def _answer(
        self, request: Envelope, *, result: Any = None, error: tuple[str, str] | None = None
    ) -> None:
        if request.reply_to is None:
            return
        payload = {"error": {"code": error[0], "message": error[1]}} if error else {"ok": result}
        reply = Envelope.create(
            self.handle,
            request.sender,
            request.reply_to,
            payload,
            in_reply_to=request.nonce,
            trace=request.trace,
            nonce=self.system.next_nonce(),
        )
        await self.system.deliver(reply)


def unpack_reply(answer: Any) -> Any:
    """The result of an `{"ok": ...}` reply, or RemoteError for an `{"error": ...}` one."""
    if isinstance(answer, dict):
        if "ok" in answer:
            return answer["ok"]
        error = answer.get("error")
        if isinstance(error, dict):
            raise RemoteError(str(error.get("code", "error")), str(error.get("message", "")))
    raise RemoteError("malformed-reply", f"reply is neither ok nor error: {answer!r}")
