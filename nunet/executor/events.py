"""Events executors append to the node's log: one per lifecycle step of each execution."""

from __future__ import annotations

from typing import ClassVar

from nunet.eventlog import Event


class ExecutionPrepared(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "execution.prepared"
    execution: str
    executor: str
    image: str
    digest: str = ""  # the image's content digest, where the backend knows it


class ExecutionStarted(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "execution.started"
    execution: str
    executor: str


class ExecutionFinished(Event, frozen=True, kw_only=True):
    """It reached a finished state: exited (with its code), failed, timed out or was cancelled."""

    TYPE: ClassVar[str] = "execution.finished"
    execution: str
    executor: str
    state: str
    exit_code: int | None = None
    error: str = ""
    cpu_seconds: float = 0.0
    memory_peak: int = 0
    wall_seconds: float = 0.0
    output_bytes: int = 0
    logs_dropped: int = 0


class ExecutionFailedToStart(Event, frozen=True, kw_only=True):
    """prepare or start was refused or broke: bad spec, unknown image, engine down, ..."""

    TYPE: ClassVar[str] = "execution.refused"
    execution: str
    executor: str
    code: str
    error: str


class ExecutionCleaned(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "execution.cleaned"
    execution: str
    executor: str


class ExecutionRecovered(Event, frozen=True, kw_only=True):
    """After a node restart: an execution found again, adopted (running) or cleaned (finished)."""

    TYPE: ClassVar[str] = "execution.recovered"
    execution: str
    executor: str
    action: str  # adopted | cleaned


EVENTS: tuple[type[Event], ...] = (
    ExecutionPrepared,
    ExecutionStarted,
    ExecutionFinished,
    ExecutionFailedToStart,
    ExecutionCleaned,
    ExecutionRecovered,
)
