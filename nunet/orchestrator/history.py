"""One line per deployment event, for `nunet deployments history`."""

from __future__ import annotations

import msgspec

from nunet.capability.units import format_size
from nunet.orchestrator.events import (
    AllocationResult,
    AllocationsRestarted,
    AllocationStateChanged,
    CommitFailed,
    DeploymentCompleted,
    DeploymentEvent,
    DeploymentExpired,
    DeploymentFailed,
    DeploymentQueued,
    DeploymentRunning,
    DeploymentSubmitted,
    DeploymentTornDown,
    MatchingStarted,
    NodeAllocated,
    NodeCommitted,
    NodeLost,
    NodeRescheduled,
    NodeReverted,
    NodesMatched,
    OutputsPublished,
    ShutdownRequested,
    SupervisorEscalated,
    TasksDone,
)


class HistoryEntry(msgspec.Struct, frozen=True, array_like=True):
    at: float
    type: str
    summary: str


def summary(event: DeploymentEvent) -> str:
    """One line for `nunet deployments history`."""
    match event:
        case DeploymentSubmitted():
            return (
                f"ensemble {event.ensemble_name}: {len(event.nodes)} node(s), "
                f"{len(event.allocations)} allocation(s), by {event.requester}"
            )
        case MatchingStarted():
            request = f" ({event.request_id})" if event.request_id else ""
            return f"bid round {event.attempt}{request} for {', '.join(event.nodes)}"
        case DeploymentQueued():
            return f"queued: {event.why}; retry in {event.retry_in:g} s"
        case DeploymentExpired():
            return f"expired: {event.why}"
        case NodesMatched():
            placed = ", ".join(f"{node} → {did}" for node, did in event.primary.items())
            spare = sum(len(dids) for dids in event.standby.values())
            return f"matched {placed}" + (f" (+{spare} standby)" if spare else "")
        case NodeCommitted():
            role = "standby " if event.standby else ""
            return f"{role}{event.provider} committed node {event.node} ({event.reservation})"
        case CommitFailed():
            return f"{event.provider} refused node {event.node}: {event.reason}"
        case NodeReverted():
            why = f": {event.reason}" if event.reason else ""
            return f"{event.provider} reverted node {event.node}{why}"
        case NodeAllocated():
            return f"{event.provider} allocated {', '.join(event.allocations)} of {event.node}"
        case AllocationStateChanged():
            return _report_line(event)
        case AllocationsRestarted():
            where = event.supervisor or "root"
            return (
                f"supervisor {where} ({event.strategy}) restarted "
                f"{', '.join(event.allocations)}: {event.why}"
            )
        case SupervisorEscalated():
            return f"supervisor {event.supervisor or 'root'} escalated: {event.why}"
        case NodeLost():
            return f"node {event.node} lost ({event.provider}): {event.why}"
        case NodeRescheduled():
            how = " (standby)" if event.from_standby else ""
            return f"node {event.node} moved {event.old_provider} → {event.new_provider}{how}"
        case DeploymentRunning():
            return "every allocation is running"
        case TasksDone():
            return "every task has finished; collecting results"
        case AllocationResult():
            code = "" if event.exit_code is None else f" (exit {event.exit_code})"
            return f"result of {event.allocation}: {event.state}{code}, {event.log_lines} log lines"
        case OutputsPublished():
            return _published_line(event)
        case DeploymentCompleted():
            return "completed"
        case DeploymentFailed():
            return f"failed: {event.why}"
        case ShutdownRequested():
            by = f" by {event.by}" if event.by else ""
            return f"shutdown requested{by}" + (f": {event.reason}" if event.reason else "")
        case DeploymentTornDown():
            return "every machine released the deployment"
        case _:
            return event.TYPE


def _report_line(event: AllocationStateChanged) -> str:
    parts = [f"{event.allocation} {event.state}"]
    if event.run > 1:
        parts.append(f"run {event.run}")
    if event.exit_code is not None:
        parts.append(f"exit {event.exit_code}")
    if event.healthy is not None:
        parts.append("healthy" if event.healthy else "unhealthy")
    line = ", ".join(parts)
    return f"{line}: {event.error}" if event.error else line


def _published_line(event: OutputsPublished) -> str:
    parts = []
    for output in event.outputs:
        if output.error:
            parts.append(f"{output.path} not published: {output.error}")
        else:
            count = len(output.objects)
            parts.append(
                f"{output.path} → {output.destination} ({count} object{'s' if count != 1 else ''}, "
                f"{format_size(output.size)})"
            )
    return f"outputs of {event.allocation} (run {event.run}): " + "; ".join(parts)
