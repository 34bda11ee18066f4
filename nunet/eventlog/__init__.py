"""The per-node event log: append-only, hash-chained, checkpointed, tailed and projected."""

from nunet.eventlog.chain import ZERO_HASH, record_hash
from nunet.eventlog.errors import (
    CatalogueError,
    CorruptLog,
    EventLogError,
    LogClosed,
    LogIsReadOnly,
    LogLocked,
    LogNotFound,
    NotAnEvent,
    UnknownEventType,
    UnknownEventVersion,
    WriteFailed,
)
from nunet.eventlog.event import Event, EventRecord
from nunet.eventlog.log import EventLog
from nunet.eventlog.sqlite import SQLiteEventLog, open_sqlite_log

__all__ = [
    "ZERO_HASH",
    "CatalogueError",
    "CorruptLog",
    "Event",
    "EventLog",
    "EventLogError",
    "EventRecord",
    "LogClosed",
    "LogIsReadOnly",
    "LogLocked",
    "LogNotFound",
    "NotAnEvent",
    "SQLiteEventLog",
    "UnknownEventType",
    "UnknownEventVersion",
    "WriteFailed",
    "open_sqlite_log",
    "record_hash",
]
