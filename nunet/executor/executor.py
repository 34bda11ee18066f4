"""The one interface every executor implements (Docker, QEMU microvm, Firecracker), and what it
reports. One contract test suite (tests/executor/contract.py) runs against each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol

import msgspec

from nunet.executor.lifecycle import State
from nunet.executor.spec import ExecutionSpec


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """What an execution used: the contract and payment work meters these."""

    cpu_seconds: float = 0.0
    memory_peak: int = 0  # bytes
    wall_seconds: float = 0.0


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    stream: Literal["stdout", "stderr", "console"]  # console: a microVM's serial console
    text: str  # one line, without its newline
    at: float  # wall-clock seconds when the backend saw it


class ExecutionStatus(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    executor: str
    state: State
    exit_code: int | None = None
    error: str = ""  # why it FAILED / TIMED_OUT / was CANCELLED; "" otherwise
    usage: Usage = Usage()
    started_at: float | None = None
    finished_at: float | None = None
    output_bytes: int = 0  # what its outputs held together when it finished
    logs_dropped: int = 0  # log bytes over the limit, not kept


class Health(msgspec.Struct, frozen=True, kw_only=True):
    healthy: bool
    detail: str = ""


class Executor(Protocol):
    """One backend. Every lifecycle step is an event in the node's log (nunet.executor.events).

    prepare: check the spec, resolve the image, create (not start) the execution — PREPARED.
    start: RUNNING. wait: until a finished state (EXITED, FAILED, TIMED_OUT, CANCELLED), then its
    status. cancel: stop it (CANCELLED). logs: lines so far (`since`: wall-clock seconds), and
    with `follow` new ones until it finishes. cleanup: remove everything of it (CLEANED).
    recover: after a node restart, find the executions this node started (by label) and adopt
    them (running) or clean them up (finished); their ids.
    """

    name: str

    async def prepare(self, spec: ExecutionSpec) -> ExecutionStatus: ...

    async def start(self, execution_id: str) -> ExecutionStatus: ...

    async def wait(self, execution_id: str) -> ExecutionStatus: ...

    async def cancel(self, execution_id: str) -> ExecutionStatus: ...

    def logs(
        self, execution_id: str, *, follow: bool = False, since: float | None = None
    ) -> AsyncIterator[LogLine]: ...

    async def status(self, execution_id: str) -> ExecutionStatus: ...

    async def health(self, execution_id: str) -> Health: ...

    async def cleanup(self, execution_id: str) -> None: ...

    async def recover(self) -> list[str]: ...

    async def close(self) -> None: ...
