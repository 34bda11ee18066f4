"""The allocation actor: one per allocation a provider runs, the thin shell around its lifecycle.

It prepares its execution when created, starts, restarts and stops it when its orchestrator
asks (never on its own), watches it end, runs its health check, and tells the orchestrator every
state change and, every `heartbeat_seconds`, that it is alive. A report that cannot be delivered
is retried (the newest state report is kept until it is, superseding older ones): the allocation
keeps running while its orchestrator is away. Its logs and exit status are kept until it is
released.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from nunet.actor import Actor, ActorError, BehaviorFailed, Handle, Message, RemoteError, behavior
from nunet.allocation.errors import (
    AllocationError,
    ContractEnded,
    IllegalTransition,
    NotYourDeployment,
)
from nunet.allocation.events import (
    AllocationRecovered,
    AllocationStateChanged,
    ProviderRefused,
)
from nunet.allocation.execution import execution_id, execution_spec
from nunet.allocation.lifecycle import ENDED, Input, next_state
from nunet.allocation.protocol import (
    LOGS_BEHAVIOR,
    REPORT_BEHAVIOR,
    RESTART_BEHAVIOR,
    START_BEHAVIOR,
    STATUS_BEHAVIOR,
    STOP_BEHAVIOR,
    AllocationAsk,
    AllocationOrder,
    AllocationState,
    HealthCheck,
    LogEntry,
    LogsAsk,
    Published,
    Report,
)
from nunet.allocation.staging import DataStage, StagingFailed
from nunet.errors import NunetError
from nunet.eventlog import Event
from nunet.executor import (
    Executor,
    ExecutorError,
    Health,
    Mount,
    OutputMount,
    State,
    UnknownExecution,
    Usage,
)

log = structlog.get_logger("nunet.allocation")

# The runtime refused the envelope (no such actor, not allowed, ...): the report never reached a
# handler, so it is sent again. Any other error came from the orchestrator's handler: delivered.
# Answers that may mean the orchestrator no longer holds this allocation (its deployment ended
# and its orchestrator retired, or the node was placed elsewhere): the provider asks the
# orchestrating node whether it still claims the node, and gives it up when it does not.
DISOWNING = frozenset(("unknown-actor", "not-your-deployment"))
UNDELIVERED = frozenset(
    (
        "rejected",
        "malformed",
        "too-large",
        "unsigned",
        "bad-signature",
        "non-canonical",
        "expired",
        "clock-skew",
        "replayed",
        "unauthorized",
        "rate-limited",
        "unknown-actor",
        "unknown-behavior",
        "misaddressed",
    )
)
MAX_REPORT_TIMEOUT = 10.0
RELEASE_REPORT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Recovered:
    """What the node's log says of an allocation when the node starts again."""

    state: AllocationState
    run: int
    execution: str  # "": none recorded (a fresh id is made)
    exit_code: int | None = None
    error: str = ""
    healthy: bool | None = None


class AllocationActor(Actor):
    """Spawn as `allocation_actor_id(deployment, order.name)` on the provider.

    `orchestrator()` is where reports go (the committing orchestrator's current handle; its DID
    alone may ask anything of this actor). `keys_file` holds the order's SSH keys when it has
    some. `stage` holds its inputs and outputs when it has some: an allocation with inputs is
    prepared when it starts (the fetch counts against its start timeout), not when created.
    `recovered` rebuilds it after a node restart instead of preparing a new execution.
    """

    kind = "allocation"

    def __init__(
        self,
        *,
        deployment: str,
        node: str,
        order: AllocationOrder,
        executor: Executor | None,
        orchestrator: Callable[[], Handle],
        heartbeat_seconds: float = 2.0,
        keys_file: Path | None = None,
        stage: DataStage | None = None,
        recovered: Recovered | None = None,
        disowned: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._disowned = disowned
        self.deployment = deployment
        self.node = node
        self.order = order
        self._executor = executor
        self._orchestrator = orchestrator
        self._heartbeat = heartbeat_seconds
        self._keys_file = keys_file
        self._stage = stage
        self._prepared = False  # the current execution is prepared
        self._published: tuple[Published, ...] = ()  # what the last run's outputs uploaded
        self._recovered = recovered
        self._clock = clock
        self._state: AllocationState = "allocated"
        self._run = 0
        self._incarnation = os.urandom(3).hex()
        self._execution = self._execution_of(1)
        self._exit_code: int | None = None
        self._error = ""
        self._healthy: bool | None = None
        self._seq = 0
        self._usage = Usage()  # as last read from the executor
        self._pending: list[Report] = []  # state reports not delivered yet, oldest first
        self._kick = asyncio.Event()
        self._steps = asyncio.Lock()  # one lifecycle step at a time
        self._operation: asyncio.Task[Any] | None = None  # a start or restart under way
        self._watchers: list[asyncio.Task[Any]] = []  # the execution's end and its health
        self.barred = ""  # why this provider will not run it again (its contract ended)

    # -- reading -------------------------------------------------------------------------------
    @property
    def state(self) -> AllocationState:
        return self._state

    @property
    def run_count(self) -> int:
        return self._run

    @property
    def execution(self) -> str:
        return self._execution

    # -- lifecycle -----------------------------------------------------------------------------
    async def on_start(self) -> None:
        if self._recovered is None:
            if not self.order.inputs:
                await self._prepare()
            self._record_state()
            self._queue(self._report("state"))
        else:
            await self._recover(self._recovered)
        self.spawn_task(self._reporting(), name=f"reports:{self.handle.actor}")

    async def release(self, reason: str = "") -> None:
        """Stop and clean up the execution, move to released and tell the orchestrator (one
        attempt: the provider stops this actor next). Called in process by the provider."""
        async with self._steps:
            if self._state == "released":
                return
            await self._halt()
            await self._refresh_usage()
            await self._discard(self._execution)
            if self._stage is not None:
                try:
                    await self._stage.discard()
                except StagingFailed as exc:
                    log.warning("volumes not removed", actor=self.handle.actor, reason=str(exc))
            self._error = reason or self._error
            self._move(Input.RELEASE)
            report = self._report("state")
        await self._deliver(report, timeout=RELEASE_REPORT_TIMEOUT)

    async def sample(self) -> tuple[int, AllocationState, Usage]:
        """(run, state, usage) now, the usage read fresh from the executor: what the
        provider's contract meters between state changes. Called in process."""
        await self._refresh_usage()
        return self._run, self._state, self._usage

    async def bar(self, reason: str) -> None:
        """Stop the work for good on this provider's own account (its contract ended: no
        payment within the grace period, budget spent, terminated): the orchestrator is told,
        with `reason`, and a later start or restart is refused. Called in process."""
        async with self._steps:
            self.barred = reason
            if self._state in ENDED or self._state == "released":
                return
            await self._stop(reason)

    # -- behaviors -----------------------------------------------------------------------------
    @behavior(START_BEHAVIOR, payload_type=AllocationAsk, public=True)
    async def start(self, message: Message) -> Report:
        self._authorize(message, "start")
        self._unbarred(message, "start")
        async with self._steps:
            self._step("start", message, Input.START)
            self._run += 1
            self._move(Input.START)
            self._operation = self.spawn_task(
                self._start(self._execution, fresh=not self._prepared)
            )
            return self._report("state", seq=self._seq)

    @behavior(RESTART_BEHAVIOR, payload_type=AllocationAsk, public=True)
    async def restart(self, message: Message) -> Report:
        self._authorize(message, "restart")
        self._unbarred(message, "restart")
        async with self._steps:
            self._step("restart", message, Input.RESTART)
            await self._halt()
            previous = self._execution
            self._run += 1
            self._execution = self._execution_of(self._run)
            self._exit_code, self._error, self._healthy = None, "", None
            self._published, self._prepared = (), False
            self._move(Input.RESTART)
            self._operation = self.spawn_task(
                self._start(self._execution, fresh=True, previous=previous)
            )
            return self._report("state", seq=self._seq)

    @behavior(STOP_BEHAVIOR, payload_type=AllocationAsk, public=True)
    async def stop(self, message: Message) -> Report:
        self._authorize(message, "stop")
        async with self._steps:
            self._step("stop", message, Input.STOP)
            if self._state in ENDED:  # already ended: nothing to stop
                return self._report("state", seq=self._seq)
            await self._stop(message.payload.reason or "stopped on request")
            return self._report("state", seq=self._seq)

    @behavior(STATUS_BEHAVIOR, payload_type=AllocationAsk, public=True)
    async def status(self, message: Message) -> Report:
        self._authorize(message, "status")
        await self._refresh_usage()
        return self._report("state", seq=self._seq)

    @behavior(LOGS_BEHAVIOR, payload_type=LogsAsk, public=True)
    async def logs(self, message: Message) -> list[LogEntry]:
        """The first `limit` lines seen after `since` (wall-clock seconds, exclusive: pass the
        newest time already read), of the current run; none once released."""
        self._authorize(message, "logs")
        ask: LogsAsk = message.payload
        if self._executor is None or self._state == "released":
            return []
        entries: list[LogEntry] = []
        try:
            async for line in self._executor.logs(self._execution, since=ask.since):
                if ask.since is not None and line.at <= ask.since:
                    continue
                entries.append(LogEntry(line.at, line.stream, line.text))
                if len(entries) >= ask.limit:
                    break
        except UnknownExecution:
            return []
        return entries

    # -- the execution -------------------------------------------------------------------------
    async def _stop(self, reason: str) -> None:
        """Move to stopped, saying `reason`, and stop what runs (within `_steps`)."""
        was_starting = self._state == "starting"
        self._error = reason
        await self._refresh_usage()
        self._move(Input.STOP)
        await self._halt()
        if was_starting:
            # A start cut short leaves nothing worth keeping: clean it at once.
            await self._discard(self._execution)
        else:
            await self._cancel(self._execution)

    async def _start(self, execution: str, *, fresh: bool, previous: str = "") -> None:
        """Start (a restart first cleans the previous run and prepares a new one), bounded by
        the order's start timeout; then watch it."""
        limit = self.order.start_timeout_seconds
        error = ""
        try:
            executor = self._require_executor()
            async with asyncio.timeout(limit):
                if previous:
                    await self._discard(previous)
                if fresh:
                    await self._prepare()
                await executor.start(execution)
        except TimeoutError:
            error = f"it did not start within its start timeout of {limit:g} s"
            await self._discard(execution)
        except (ExecutorError, StagingFailed) as exc:
            error = str(exc)
        async with self._steps:
            if self._state != "starting" or self._execution != execution:
                return  # stopped or released meanwhile
            if error:
                self._error = error
                self._move(Input.START_FAILED)
                return
            self._move(Input.STARTED)
            self._watch(execution)

    def _watch(self, execution: str) -> None:
        self._watchers = [self.spawn_task(self._await_end(execution))]
        check = self.order.health_check
        if check is not None:
            self._watchers.append(self.spawn_task(self._check_health(execution, check)))

    async def _await_end(self, execution: str) -> None:
        ended = await self._require_executor().wait(execution)
        async with self._steps:
            if self._state != "running" or self._execution != execution:
                return
            for task in self._watchers:
                if task is not asyncio.current_task():
                    task.cancel()
            self._exit_code = ended.exit_code
            self._error = ended.error
            self._usage = ended.usage
            if ended.state is State.CANCELLED:
                self._move(Input.STOPPED)
                return
            exited = ended.state is State.EXITED
            if not await self._publish(succeeded=exited and ended.exit_code == 0):
                exited = False
            self._move(Input.EXITED if exited else Input.FAILED)

    async def _publish(self, *, succeeded: bool) -> bool:
        """Upload the run's outputs (before its end is reported, so that its orchestrator
        tears nothing down first); False, with the error said, when one could not be."""
        if self._stage is None:
            return True
        self._published = await self._stage.publish(max(self._run, 1), succeeded=succeeded)
        errors = [p.error for p in self._published if p.error]
        if errors:
            self._error = "; ".join(filter(None, (self._error, *errors)))
        return not errors

    async def _check_health(self, execution: str, check: HealthCheck) -> None:
        """Every `interval`: the check; unhealthy after `retries` failures in a row, failures
        within `start_period` of the start not counted; healthy again on the first success."""
        executor = self._require_executor()
        started = time.monotonic()
        failures = 0
        while True:
            await asyncio.sleep(check.interval)
            try:
                async with asyncio.timeout(check.timeout):
                    health = await executor.health(execution)
            except TimeoutError:
                health = Health(
                    healthy=False, detail=f"the health check took over {check.timeout:g} s"
                )
            except ExecutorError as exc:
                health = Health(healthy=False, detail=f"the health check could not run: {exc}")
            if self._state != "running" or self._execution != execution:
                return
            if health.healthy:
                failures = 0
                self._set_health(True, "")
            elif time.monotonic() - started >= check.start_period:
                failures += 1
                if failures >= check.retries:
                    self._set_health(False, f"unhealthy: {health.detail}")

    def _set_health(self, healthy: bool, detail: str) -> None:
        if self._healthy == healthy:
            return
        self._healthy = healthy
        self._error = detail
        self._record_state()
        self._queue(self._report("state"))

    async def _halt(self) -> None:
        """Stop the start under way and the watchers of the execution (not the execution)."""
        tasks = [t for t in (self._operation, *self._watchers) if t is not None]
        tasks = [t for t in tasks if t is not asyncio.current_task()]
        self._operation, self._watchers = None, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cancel(self, execution: str) -> None:
        if self._executor is None:
            return
        try:
            await self._executor.cancel(execution)
        except ExecutorError as exc:
            log.info("cancel refused", execution=execution, reason=str(exc))

    async def _discard(self, execution: str) -> None:
        """Cancel if it runs, then clean it up; what is already gone is not an error."""
        if self._executor is None:
            return
        try:
            status = await self._executor.status(execution)
        except UnknownExecution:
            return
        if status.state is State.CLEANED:
            return
        if status.state in (State.PENDING, State.PREPARED, State.RUNNING):
            await self._cancel(execution)
        try:
            await self._executor.cleanup(execution)
        except ExecutorError as exc:
            log.warning("cleanup failed", execution=execution, reason=str(exc))

    def _execution_of(self, run: int) -> str:
        return execution_id(self.deployment, self.order.name, run, self._incarnation)

    async def _prepare(self) -> None:
        """Prepare the current execution: its inputs fetched and output volumes made first.
        One that fails to prepare is cleaned up again."""
        executor = self._require_executor()
        run = max(self._run, 1)
        inputs: tuple[Mount, ...] = ()
        outputs: tuple[OutputMount, ...] = ()
        if self._stage is not None:
            inputs = await self._stage.input_mounts()
            outputs = await self._stage.output_mounts(run)
        spec = execution_spec(
            self.order,
            deployment=self.deployment,
            node=self.node,
            execution=self._execution,
            run=run,
            keys_file=self._keys_file,
            inputs=inputs,
            outputs=outputs,
            output_bytes=None if self._stage is None else self._stage.output_max_bytes,
        )
        try:
            await executor.prepare(spec)
        except ExecutorError:
            with contextlib.suppress(ExecutorError):
                await executor.cleanup(self._execution)
            raise
        self._prepared = True

    def _require_executor(self) -> Executor:
        if self._executor is None:
            raise ExecutorError(
                f"the {self.order.executor} executor is not available on this node now"
            )
        return self._executor

    # -- recovery ------------------------------------------------------------------------------
    async def _recover(self, was: Recovered) -> None:
        self._state, self._run = was.state, was.run
        self._execution = was.execution or self._execution_of(max(was.run, 1))
        self._exit_code, self._error, self._healthy = was.exit_code, was.error, was.healthy
        action = "kept"
        if was.state not in ENDED:
            status = None
            if self._executor is not None:
                with contextlib.suppress(UnknownExecution):
                    status = await self._executor.status(was.execution)
            if status is not None and status.state is State.RUNNING and was.state != "allocated":
                self._state, action = "running", "adopted"
                self._watch(was.execution)
            elif was.state == "allocated" and self.order.inputs:
                action = "kept"  # prepared when it starts, its inputs fetched then
            elif was.state == "allocated" and self._executor is not None:
                try:
                    await self._prepare()
                    action = "prepared"
                except (ExecutorError, StagingFailed) as exc:
                    self._state, self._error, action = "failed", str(exc), "lost"
            else:
                self._state, action = "failed", "lost"
                self._error = (
                    "its execution was gone when the node started again (it ended, or its "
                    "executor is missing, while the node was down)"
                )
            if self._state != was.state or action != "adopted":
                self._record_state()
        self._record(
            AllocationRecovered(
                deployment=self.deployment,
                node=self.node,
                allocation=self.order.name,
                action=action,
                state=self._state,
            )
        )
        self._queue(self._report("state"))

    # -- reports -------------------------------------------------------------------------------
    def _move(self, event: Input) -> None:
        before = self._state
        self._state = next_state(self._state, event)
        if self._state == before:
            return
        self._record_state()
        self._queue(self._report("state"))

    def _record_state(self) -> None:
        self._record(
            AllocationStateChanged(
                deployment=self.deployment,
                node=self.node,
                allocation=self.order.name,
                state=self._state,
                run=self._run,
                execution=self._execution,
                exit_code=self._exit_code,
                error=self._error,
                healthy=self._healthy,
                cpu_seconds=self._usage.cpu_seconds,
                wall_seconds=self._usage.wall_seconds,
            )
        )
        log.info(
            "allocation state",
            deployment=self.deployment,
            allocation=self.order.name,
            state=self._state,
            run=self._run,
        )

    def _next_seq(self) -> int:
        # Microseconds of wall clock, and always more than the last: a node restarted from its
        # log continues above what it said before, so its reports are not taken for late ones.
        self._seq = max(self._seq + 1, int(self._clock() * 1_000_000))
        return self._seq

    async def _refresh_usage(self) -> None:
        if self._executor is not None and self._state != "released":
            with contextlib.suppress(ExecutorError):
                self._usage = (await self._executor.status(self._execution)).usage

    def _report(self, kind: Literal["state", "heartbeat"], *, seq: int | None = None) -> Report:
        usage = self._usage
        return Report(
            kind=kind,
            deployment=self.deployment,
            node=self.node,
            allocation=self.order.name,
            state=self._state,
            seq=self._next_seq() if seq is None else seq,
            at=self._clock(),
            run=self._run,
            exit_code=self._exit_code,
            error=self._error,
            healthy=self._healthy,
            cpu_seconds=usage.cpu_seconds,
            memory_peak=usage.memory_peak,
            wall_seconds=usage.wall_seconds,
            # Said once, with the end of the run that published them.
            outputs=self._published if kind == "state" and self._state in ENDED else (),
        )

    def _queue(self, report: Report) -> None:
        self._pending.append(report)
        self._kick.set()

    async def _reporting(self) -> None:
        """Deliver state reports in order; when the orchestrator cannot be reached keep only the
        newest and try again at the next heartbeat; with nothing pending, send heartbeats."""
        while True:
            self._kick.clear()
            if self._pending:
                report = self._pending[0]
                if await self._deliver(report):
                    if self._pending and self._pending[0] is report:
                        self._pending.pop(0)
                    continue
                del self._pending[:-1]
                await self._pause()
                continue
            if await self._pause():
                continue
            if self._state != "released":
                await self._refresh_usage()
                await self._deliver(self._report("heartbeat"))

    async def _pause(self) -> bool:
        """Wait a heartbeat; True when woken early by a new state report."""
        try:
            async with asyncio.timeout(self._heartbeat):
                await self._kick.wait()
        except TimeoutError:
            return False
        return True

    async def _deliver(self, report: Report, *, timeout: float | None = None) -> bool:
        """Whether the orchestrator's node accepted it (its handler ran, whatever it answered)."""
        to = self._orchestrator()
        limit = (
            timeout if timeout is not None else min(max(self._heartbeat, 1.0), MAX_REPORT_TIMEOUT)
        )
        try:
            await self.invoke(to, REPORT_BEHAVIOR, report, timeout=limit)
        except RemoteError as exc:
            if exc.code in DISOWNING:
                self._disowned()
            if exc.code in UNDELIVERED:
                log.info("report not delivered", to=str(to), kind=report.kind, reason=str(exc))
                return False
            log.info("report refused by the orchestrator", to=str(to), reason=str(exc))
        except (ActorError, NunetError) as exc:
            log.info("report not delivered", to=str(to), kind=report.kind, reason=str(exc))
            return False
        return True

    # -- checks --------------------------------------------------------------------------------
    def _authorize(self, message: Message, operation: str) -> None:
        sender = message.sender.did
        orchestrator = self._orchestrator().did
        ask = message.payload
        if sender != orchestrator:
            raise self._refuse(
                operation,
                sender,
                NotYourDeployment(
                    f"{operation}: allocation {self.order.name} of deployment {self.deployment} "
                    f"belongs to the orchestrator {orchestrator}, not {sender}"
                ),
            )
        if ask.deployment != self.deployment or ask.allocation != self.order.name:
            raise self._refuse(
                operation,
                sender,
                NotYourDeployment(
                    f"{operation}: this actor runs allocation {self.order.name} of deployment "
                    f"{self.deployment}, not {ask.allocation} of {ask.deployment}"
                ),
            )

    def _unbarred(self, message: Message, operation: str) -> None:
        if self.barred:
            raise self._refuse(
                operation,
                message.sender.did,
                ContractEnded(
                    f"{operation}: allocation {self.order.name} may not run on this provider "
                    f"again: {self.barred}"
                ),
            )

    def _step(self, operation: str, message: Message, event: Input) -> None:
        try:
            next_state(self._state, event)
        except IllegalTransition as exc:
            raise self._refuse(operation, message.sender.did, exc) from None

    def _refuse(self, operation: str, sender: str, error: AllocationError) -> BehaviorFailed:
        self._record(
            ProviderRefused(
                operation=operation,
                deployment=self.deployment,
                node=self.node,
                allocation=self.order.name,
                sender=sender,
                code=error.code,
                reason=str(error),
            )
        )
        log.warning(
            "allocation ask refused", operation=operation, code=error.code, reason=str(error)
        )
        return BehaviorFailed(str(error), code=error.code)

    def _record(self, event: Event) -> None:
        self.system.event_log.append_nowait(event, actor=str(self.handle))
