"""Executors: one interface (prepare, start, wait, cancel, logs, status, health, cleanup,
recover), with a Docker backend and a microVM backend (QEMU microvm, Firecracker).

Public names are re-exported here; the modules behind them are private.
"""

from nunet.executor.errors import (
    ExecutionFailed,
    ExecutorError,
    ExecutorUnavailable,
    IllegalTransition,
    ImageNotFound,
    InvalidSpec,
    UnknownExecution,
)
from nunet.executor.events import (
    EVENTS,
    ExecutionCleaned,
    ExecutionFailedToStart,
    ExecutionFinished,
    ExecutionPrepared,
    ExecutionRecovered,
    ExecutionStarted,
)
from nunet.executor.executor import ExecutionStatus, Executor, Health, LogLine, Usage
from nunet.executor.lifecycle import FINISHED, TRANSITIONS, Input, State, next_state
from nunet.executor.spec import ExecutionSpec, Limits, Mount, OutputMount, PortMapping

__all__ = [
    "EVENTS",
    "FINISHED",
    "TRANSITIONS",
    "ExecutionCleaned",
    "ExecutionFailed",
    "ExecutionFailedToStart",
    "ExecutionFinished",
    "ExecutionPrepared",
    "ExecutionRecovered",
    "ExecutionSpec",
    "ExecutionStarted",
    "ExecutionStatus",
    "Executor",
    "ExecutorError",
    "ExecutorUnavailable",
    "Health",
    "IllegalTransition",
    "ImageNotFound",
    "Input",
    "InvalidSpec",
    "Limits",
    "LogLine",
    "Mount",
    "OutputMount",
    "PortMapping",
    "State",
    "UnknownExecution",
    "Usage",
    "next_state",
]
