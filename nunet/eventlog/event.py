"""What the log stores: events (typed payloads) and records (an event sealed into the chain)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from nunet.eventlog.errors import NotAnEvent


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event payload.

    Subclasses set the ClassVars TYPE (dotted, e.g. "envelope.received") and VERSION (bump it
    when the fields change, and register an Upcaster from the old version in the catalogue).
    """

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class EventRecord(msgspec.Struct, frozen=True, gc=False):
    """One sealed record of the log. `hash` covers every other field (see `chain.record_hash`)."""

    seq: int
    timestamp: int  # ns since the epoch, when the record's batch was written; never decreases
    type: str
    version: int
    actor: str  # the originating actor's handle, or ""
    payload: bytes  # msgpack of the Event
    prev_hash: bytes
    hash: bytes


# What a writer needs to seal a record: (type, version, actor, payload).
EncodedEvent = tuple[str, int, str, bytes]


class EventEncoder:
    """Turns events into (type, version, payload) with one msgspec encoder and a per-class cache."""

    def __init__(self) -> None:
        self._encode = msgspec.msgpack.Encoder().encode
        self._kinds: dict[type, tuple[str, int]] = {}

    def encode(self, event: Event, actor: str) -> EncodedEvent:
        cls = type(event)
        kind = self._kinds.get(cls)
        if kind is None:
            kind = self._kinds[cls] = event_kind(cls)
        return (kind[0], kind[1], actor, self._encode(event))


def event_kind(cls: type) -> tuple[str, int]:
    """(TYPE, VERSION) of an Event class; NotAnEvent naming what is missing."""
    if not (isinstance(cls, type) and issubclass(cls, Event)):
        raise NotAnEvent(f"{cls!r} is not an Event subclass")
    event_type = getattr(cls, "TYPE", None)
    version = getattr(cls, "VERSION", None)
    if not isinstance(event_type, str) or not event_type:
        raise NotAnEvent(f"{cls.__qualname__} must set the ClassVar TYPE to a non-empty string")
    if not isinstance(version, int) or version < 1:
        raise NotAnEvent(f"{cls.__qualname__}.VERSION must be an int >= 1, not {version!r}")
    return event_type, version
