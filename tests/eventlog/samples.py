"""Event types used only by the event-log tests."""

from __future__ import annotations

from nunet.eventlog import Event
from nunet.eventlog.catalogue import Catalogue
from nunet.eventlog.events import EVENTS, UPCASTERS


class Pinged(Event, frozen=True, kw_only=True):
    """A test event carrying a number."""

    TYPE = "test.pinged"
    n: int


class Noted(Event, frozen=True, kw_only=True):
    """A test event carrying text and bytes."""

    TYPE = "test.noted"
    text: str
    blob: bytes = b""


CATALOGUE = Catalogue(Pinged, Noted, *EVENTS, upcasters=UPCASTERS)


def pings(count: int, start: int = 0) -> list[Pinged]:
    return [Pinged(n=i) for i in range(start, start + count)]
