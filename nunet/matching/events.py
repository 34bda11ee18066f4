"""Events search and matching append to the node's log: both sides of every bid round."""

from __future__ import annotations

from typing import ClassVar

from nunet.eventlog import Event


class BidRequested(Event, frozen=True, kw_only=True):
    """This node (as orchestrator) broadcast a bid request."""

    TYPE: ClassVar[str] = "matching.bid_requested"
    request_id: str
    deadline: float
    attempt: int


class RoundCompleted(Event, frozen=True, kw_only=True):
    """A bid round ended: candidates best first, and why the other nodes are not among them."""

    TYPE: ClassVar[str] = "matching.round_completed"
    request_id: str
    candidates: list[str]
    bids: int
    declined: int
    excluded: dict[str, int]
    rejected: int
    elapsed_seconds: float


class Queued(Event, frozen=True, kw_only=True):
    """Nothing fit; the search waits `retry_in_seconds` and asks the swarm again."""

    TYPE: ClassVar[str] = "matching.queued"
    request_id: str
    attempt: int
    retry_in_seconds: float
    why: str


class BidSent(Event, frozen=True, kw_only=True):
    """This node (as provider) offered to serve another's request."""

    TYPE: ClassVar[str] = "matching.bid_sent"
    request_id: str
    orchestrator: str
    hourly_cost: float
    valid_until: float


class Declined(Event, frozen=True, kw_only=True):
    """This node cannot serve another's request, for these constraints."""

    TYPE: ClassVar[str] = "matching.declined"
    request_id: str
    orchestrator: str
    constraints: list[str]


class RequestRefused(Event, frozen=True, kw_only=True):
    """A bid request that was malformed, forged or expired; it was not answered."""

    TYPE: ClassVar[str] = "matching.request_refused"
    sender: str
    reason: str


class BidRefused(Event, frozen=True, kw_only=True):
    """A bid or decline this node did not take: bad signature, stale, not for an open request."""

    TYPE: ClassVar[str] = "matching.bid_refused"
    sender: str
    request_id: str
    reason: str


EVENTS: tuple[type[Event], ...] = (
    BidRequested,
    RoundCompleted,
    Queued,
    BidSent,
    Declined,
    RequestRefused,
    BidRefused,
)
