"""Events the outbox writes to the log it replicates: one per stall and one per recovery.

Never one per published record: the outbox replicates the very log it writes to, so a
per-record event would replicate itself forever.
"""

from __future__ import annotations

from typing import ClassVar

from nunet.eventlog import Event


class ReplicationStalled(Event, frozen=True, kw_only=True):
    """The swarm stream stopped acknowledging this log's records; the outbox retries with backoff.

    `acknowledged`: the last seq the stream had acknowledged in order; `error`: why it stalled.
    """

    TYPE: ClassVar[str] = "replication.stalled"
    stream: str
    acknowledged: int
    error: str


class ReplicationResumed(Event, frozen=True, kw_only=True):
    """The swarm stream acknowledges again; sending continues after seq `resumed_after`.

    `resumed_after` may be below the acknowledged seq when the stream lost its tail (a hub lost
    acknowledged messages): those records are sent again. `stalled_ns`: how long it was stalled.
    """

    TYPE: ClassVar[str] = "replication.resumed"
    stream: str
    resumed_after: int
    stalled_ns: int


EVENTS: tuple[type[Event], ...] = (ReplicationStalled, ReplicationResumed)
