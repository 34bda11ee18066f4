"""LogStatistics: how many records of each type and from each actor, and where they were last.

A debugging projection: `nunet events replay --projection log-statistics`.
"""

from __future__ import annotations

import msgspec

from nunet.eventlog.event import EventRecord
from nunet.eventlog.projection import Projection


class Tally(msgspec.Struct):
    count: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_timestamp: int = 0


class LogStatisticsState(msgspec.Struct):
    records: int = 0
    last_seq: int = 0
    by_type: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_actor: dict[str, Tally] = msgspec.field(default_factory=dict)


class LogStatistics(Projection[LogStatisticsState]):
    """Per-type and per-actor counts, first/last seq and last timestamp."""

    name = "log-statistics"

    def __init__(self) -> None:
        super().__init__(LogStatisticsState)

    def initial(self) -> LogStatisticsState:
        return LogStatisticsState()

    def evolve(self, state: LogStatisticsState, record: EventRecord) -> LogStatisticsState:
        state.records += 1
        state.last_seq = record.seq
        for tallies, key in ((state.by_type, record.type), (state.by_actor, record.actor)):
            tally = tallies.get(key)
            if tally is None:
                tally = tallies[key] = Tally(first_seq=record.seq)
            tally.count += 1
            tally.last_seq = record.seq
            tally.last_timestamp = record.timestamp
        return state
