"""W3C trace context carried by envelopes, so one request can be followed across actors and nodes.

A handler runs with its envelope's `traceparent` as the current trace; envelopes it sends carry
the same trace id under a new parent (span) id. Nothing is sampled or exported yet: the
telemetry work reads these ids from the log.
"""

from __future__ import annotations

import contextvars
import os
import re

from nunet.errors import NunetError

_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

current_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nunet_current_trace", default=None
)


class InvalidTraceparent(NunetError):
    code = "invalid-request"


def new_trace() -> str:
    """A fresh traceparent: new trace id, new parent id, sampled."""
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def child_trace(parent: str) -> str:
    """The same trace under a new parent id."""
    return f"{parent[:36]}{os.urandom(8).hex()}{parent[52:]}"


def outgoing_trace(explicit: str | None) -> str | None:
    """The trace for an envelope being sent: the explicit one, else a child of the current one."""
    if explicit is not None:
        return explicit
    current = current_trace.get()
    return None if current is None else child_trace(current)


def parse_traceparent(value: str) -> str:
    """Validate a `traceparent` header (version 00); InvalidTraceparent names what is wrong."""
    match = _FORMAT.match(value.strip().lower())
    if match is None:
        raise InvalidTraceparent(
            f"traceparent {value!r} is not '00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>'"
        )
    if set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        raise InvalidTraceparent(f"traceparent {value!r} has an all-zero id")
    return match.group(0)


def trace_id(traceparent: str) -> str:
    return traceparent[3:35]
