"""Times as people read them in error messages and listings: ISO 8601, UTC, whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return repr(timestamp)
