"""The per-node event log: append-only, hash-chained, checkpointed, tailed and projected."""

from nunet.eventlog.catalogue import Catalogue, Upcaster
from nunet.eventlog.chain import ZERO_HASH, record_hash
from nunet.eventlog.checkpoint import Checkpointer
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
from nunet.eventlog.events import LogCheckpoint
from nunet.eventlog.log import EventLog
from nunet.eventlog.postgres import PostgresEventLog
from nunet.eventlog.progress import SeqWaiters
from nunet.eventlog.projection import Projection, ProjectionRunner, replay
from nunet.eventlog.projection_store import ProjectionStore, SQLiteProjectionStore
from nunet.eventlog.sqlite import SQLiteEventLog, open_sqlite_log
from nunet.eventlog.statistics import LogStatistics, LogStatisticsState
from nunet.eventlog.verify import (
    ChainVerifier,
    Problem,
    TrustedHead,
    VerificationReport,
    verify_log,
)

__all__ = [
    "ZERO_HASH",
    "Catalogue",
    "CatalogueError",
    "ChainVerifier",
    "Checkpointer",
    "CorruptLog",
    "Event",
    "EventLog",
    "EventLogError",
    "EventRecord",
    "LogCheckpoint",
    "LogClosed",
    "LogIsReadOnly",
    "LogLocked",
    "LogNotFound",
    "LogStatistics",
    "LogStatisticsState",
    "NotAnEvent",
    "PostgresEventLog",
    "Problem",
    "Projection",
    "ProjectionRunner",
    "ProjectionStore",
    "SQLiteEventLog",
    "SQLiteProjectionStore",
    "SeqWaiters",
    "TrustedHead",
    "UnknownEventType",
    "UnknownEventVersion",
    "Upcaster",
    "VerificationReport",
    "WriteFailed",
    "open_sqlite_log",
    "record_hash",
    "replay",
    "verify_log",
]
