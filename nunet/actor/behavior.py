"""Behaviors: named handlers an actor exposes, found by path at dispatch time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nunet.actor.envelope import Envelope
from nunet.actor.handle import Handle

PUBLIC_PREFIX = "/public/"


@dataclass(frozen=True, slots=True)
class Message:
    """What a handler receives: the envelope and its payload, converted to the behavior's type."""

    envelope: Envelope
    payload: Any

    @property
    def sender(self) -> Handle:
        return self.envelope.sender


Handler = Callable[[Message], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Behavior:
    """A path an actor answers to.

    `payload_type` is a msgspec-convertible type the payload must fit (a bad payload is answered
    with an `invalid-payload` error and never reaches the handler). `public` behaviors need no
    capability. `senders`, when set, is the only DIDs allowed to invoke it (one-shot reply
    behaviors accept only the actor the request went to). A reply behavior has no handler: it
    `settles` the caller's future with the payload at dispatch, without the mailbox.
    """

    path: str
    handler: Handler | None
    payload_type: Any = None
    public: bool = False
    one_shot: bool = False
    senders: frozenset[str] | None = None
    settles: asyncio.Future[Any] | None = None

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.settles is None):
            raise ValueError(f"behavior {self.path} needs either a handler or a future to settle")

    @property
    def needs_capability(self) -> bool:
        return not (self.public or self.senders is not None or self.path.startswith(PUBLIC_PREFIX))


class BehaviorTable:
    """The behaviors of one actor; entries can be added and removed while it runs."""

    def __init__(self) -> None:
        self._by_path: dict[str, Behavior] = {}

    def add(self, behavior: Behavior) -> None:
        if not behavior.path.startswith("/"):
            raise ValueError(f"behavior path {behavior.path!r} must start with '/'")
        self._by_path[behavior.path] = behavior

    def remove(self, path: str) -> None:
        self._by_path.pop(path, None)

    def get(self, path: str) -> Behavior | None:
        return self._by_path.get(path)

    def take(self, path: str) -> Behavior | None:
        """Look up a behavior, removing it if it is one-shot."""
        behavior = self._by_path.get(path)
        if behavior is not None and behavior.one_shot:
            del self._by_path[path]
        return behavior

    def __iter__(self) -> Iterator[Behavior]:
        return iter(list(self._by_path.values()))

    def __contains__(self, path: object) -> bool:
        return path in self._by_path
