"""Reaching the swarm log from a local tool: mesh.json's URL, token and domain, to a reader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import nats.errors
import structlog

from nunet.mesh import SWARM_DOMAIN, MeshAccess
from nunet.replication.errors import SwarmUnreachable
from nunet.replication.reader import ProblemHandler, SwarmLogReader, log_problem

log = structlog.get_logger("nunet.replication")


@asynccontextmanager
async def swarm_log_reader(
    access: MeshAccess, *, on_problem: ProblemHandler = log_problem, connect_timeout: float = 5.0
) -> AsyncIterator[SwarmLogReader]:
    """A reader over the node's own NATS server (as mesh.json describes it); closes on exit."""
    try:
        nc = await nats.connect(
            access.client_url,
            token=access.token,
            connect_timeout=connect_timeout,
            max_reconnect_attempts=1,  # a node that is not running is an error at once...
            reconnect_time_wait=0.5,
            error_cb=_note_error,
        )
    except (nats.errors.Error, OSError) as exc:
        raise SwarmUnreachable(
            f"cannot connect to the node's NATS server at {access.client_url}: "
            f"{str(exc) or type(exc).__name__} (is the node running?)"
        ) from None
    nc.options["max_reconnect_attempts"] = -1  # ...one that restarts is waited for
    try:
        yield SwarmLogReader(nc, access.swarm_domain or SWARM_DOMAIN, on_problem=on_problem)
    finally:
        await nc.close()


async def _note_error(error: Exception) -> None:
    """nats-py's default prints a traceback per failed attempt; a debug line is enough."""
    log.debug("replication.connection_error", error=str(error) or type(error).__name__)
