"""The supervisor actor: a thin shell that carries out what the pure `Supervision` machine decides.

It spawns and stops its children through the actor system, turns their exits into machine
events, and fails to its own parent (by failing its actor task) when the machine escalates.
Each start of a child is an *incarnation*; exits reported for an older incarnation, or for a
child the supervisor is stopping itself, are not failures and are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nunet.actor.actor import Actor
from nunet.actor.errors import ActorError
from nunet.actor.events import ChildRestarted, SupervisorEscalation
from nunet.actor.supervision import (
    ChildExited,
    ChildSpec,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    Command,
    Escalate,
    Event,
    ExitNormally,
    Intensity,
    StartChild,
    StopChild,
    StopRequested,
    Strategy,
    Supervision,
    SupervisorState,
)
from nunet.identity import KeyPair


class SupervisorEscalated(ActorError):
    """A supervisor gave up after too many restarts; its parent decides what happens next."""

    code = "escalated"


@dataclass(frozen=True)
class Child:
    """A child a supervisor keeps running: its spec (id = actor id), how to make a fresh one."""

    spec: ChildSpec
    make: Callable[[], Actor]
    key: KeyPair | None = None


class Supervisor(Actor):
    """Keeps its children running by strategy and restart intensity."""

    kind = "supervisor"

    def __init__(
        self,
        strategy: Strategy,
        children: Sequence[Child],
        *,
        intensity: Intensity | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._children = {child.spec.id: child for child in children}
        self._machine = Supervision(
            strategy, intensity or Intensity(), tuple(c.spec for c in children)
        )
        self._clock = clock
        self._state: SupervisorState | None = None
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._incarnation: dict[str, int] = {}
        self._stopping: set[str] = set()
        self._escalation: str | None = None
        self._settled = asyncio.Event()
        self._settled.set()

    @property
    def state(self) -> SupervisorState | None:
        return self._state

    async def settled(self) -> None:
        """Return once every child exit reported so far has been dealt with."""
        await self._settled.wait()

    async def on_start(self) -> None:
        self._state, commands = self._machine.start(self._clock())
        await self._carry_out(commands)

    async def run(self) -> None:
        mailbox = asyncio.create_task(super().run(), name=f"mailbox:{self.handle.actor}")
        try:
            if self._escalation is not None:
                raise SupervisorEscalated(self._escalation)
            while True:
                if mailbox.done():
                    await mailbox  # a handler of the supervisor itself failed
                event = await self._events.get()
                await self._carry_out(self._step(event))
                if self._events.empty():
                    self._settled.set()
        finally:
            mailbox.cancel()

    async def on_stop(self) -> None:
        if self._state is not None:
            await self._carry_out(self._step(StopRequested()))

    def _step(self, event: Event) -> tuple[Command, ...]:
        assert self._state is not None
        self._state, commands = self._machine.step(self._state, event, self._clock())
        return commands

    async def _carry_out(self, commands: Sequence[Command]) -> None:
        pending = deque(commands)
        while pending:
            command = pending.popleft()
            if isinstance(command, StartChild):
                event: Event = await self._start(command.child)
            elif isinstance(command, StopChild):
                event = await self._stop(command.child)
            elif isinstance(command, Escalate):
                self.system.event_log.append_nowait(
                    SupervisorEscalation(supervisor=self.handle.actor, reason=command.reason),
                    actor=str(self.handle),
                )
                self._escalation = command.reason
                raise SupervisorEscalated(
                    f"supervisor {self.handle.actor} gave up: {command.reason}"
                )
            elif isinstance(command, ExitNormally):
                return
            pending.extend(self._step(event))

    async def _start(self, child_id: str) -> Event:
        incarnation = self._incarnation.get(child_id, 0) + 1
        self._incarnation[child_id] = incarnation
        child = self._children[child_id]

        async def on_exit(actor_id: str, error: BaseException | None) -> None:
            if self._incarnation.get(child_id) != incarnation or child_id in self._stopping:
                return
            self._settled.clear()
            self._events.put_nowait(
                ChildExited(
                    child_id, normal=error is None, reason="" if error is None else repr(error)
                )
            )

        try:
            await self.system.spawn(
                child.make(), child_id, key=child.key, on_exit=on_exit, parent=self.handle.actor
            )
        except Exception as exc:
            return ChildStartFailed(child_id, repr(exc))
        if incarnation > 1:
            self.system.event_log.append_nowait(
                ChildRestarted(
                    supervisor=self.handle.actor,
                    child=child_id,
                    strategy=self._machine.strategy.value,
                ),
                actor=str(self.handle),
            )
        return ChildStarted(child_id)

    async def _stop(self, child_id: str) -> Event:
        self._stopping.add(child_id)
        try:
            await self.system.stop(child_id)
        finally:
            self._stopping.discard(child_id)
            self._incarnation[child_id] = self._incarnation.get(child_id, 0) + 1
        return ChildStopped(child_id)
