"""What can go wrong with an event log, as errors a user can act on."""

from __future__ import annotations

from nunet.errors import NunetError


class EventLogError(NunetError):
    """Base of every event-log error."""


class LogClosed(EventLogError):
    """The log was closed; nothing more can be appended or read through it."""


class LogLocked(EventLogError):
    """Another writer holds the log: a node's log has exactly one writer."""


class LogIsReadOnly(EventLogError):
    """The log was opened read-only (e.g. by the CLI while the node runs)."""


class LogNotFound(EventLogError):
    """There is no event log where one was expected."""


class CorruptLog(EventLogError):
    """The store cannot be read as an event log; the message says where and why."""


class WriteFailed(EventLogError):
    """A batch could not be made durable; none of its records were appended."""


class NotAnEvent(EventLogError):
    """Something other than a well-formed Event subclass was given to the log."""


class UnknownEventType(EventLogError):
    """The catalogue has no class for a record's type."""


class UnknownEventVersion(EventLogError):
    """A record's version is newer than its class, or no upcaster path reaches the class."""


class CatalogueError(EventLogError):
    """The catalogue itself is inconsistent (duplicate type, missing upcaster)."""
