"""DockerExecutor: the Executor interface on a Docker engine, over the Engine API (async httpx on
the Unix socket). Each execution drives the pure lifecycle; each step is an event via `record`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from pathlib import Path

from nunet.eventlog import Event
from nunet.executor.contract_support import LogBook, check_spec, outputs_bytes
from nunet.executor.docker.container import (
    EXECUTION_LABEL,
    NODE_LABEL,
    check_docker_spec,
    container_config,
    container_name,
    cpu_and_memory,
    describe_bytes,
    health_check_of,
    limits_of,
    outputs_of,
    timestamp,
)
from nunet.executor.docker.engine import DockerEngine, EngineError
from nunet.executor.docker.frames import FrameDecoder, LineSplitter, Stream
from nunet.executor.docker.reference import RegistryAuth, auth_header, parse_reference
from nunet.executor.errors import (
    ExecutionFailed,
    ExecutorError,
    IllegalTransition,
    ImageNotFound,
    UnknownExecution,
)
from nunet.executor.events import (
    ExecutionCleaned,
    ExecutionFailedToStart,
    ExecutionFinished,
    ExecutionPrepared,
    ExecutionRecovered,
    ExecutionStarted,
)
from nunet.executor.executor import ExecutionStatus, Health, LogLine, Usage
from nunet.executor.lifecycle import FINISHED, Input, State, next_state
from nunet.executor.spec import ExecutionSpec, Limits

NAME = "docker"
STATS_EVERY_S = 0.2
HEALTH_CHECK_S = 10.0
LOG_DRAIN_S = 5.0  # after exit, how long the attach stream may take to deliver its last bytes


@dataclasses.dataclass
class _Execution:
    id: str
    limits: Limits
    outputs: tuple[str, ...] = ()  # the host directories of its outputs
    health_check: tuple[str, ...] = ()
    state: State = State.PENDING
    container: str = ""
    exit_code: int | None = None
    error: str = ""
    cpu_seconds: float = 0.0
    memory_peak: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    output_bytes: int = 0
    stopping: State | None = None  # CANCELLED or TIMED_OUT once asked to stop
    book: LogBook | None = None
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    attached: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # book exists
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def status(self) -> ExecutionStatus:
        wall = (
            (self.finished_at or time.time()) - self.started_at
            if self.started_at is not None
            else 0.0
        )
        return ExecutionStatus(
            id=self.id,
            executor=NAME,
            state=self.state,
            exit_code=self.exit_code,
            error=self.error,
            usage=Usage(
                cpu_seconds=self.cpu_seconds,
                memory_peak=self.memory_peak,
                wall_seconds=max(wall, 0.0),
            ),
            started_at=self.started_at,
            finished_at=self.finished_at,
            output_bytes=self.output_bytes,
            logs_dropped=self.book.dropped if self.book is not None else 0,
        )


class DockerExecutor:
    """Runs executions as containers labelled `nunet.node=<node_id>`, `nunet.execution=<id>`.

    `log_dir` keeps each execution's capped log (a fresh temporary directory when not given;
    pass the node's data directory so logs survive a restart)."""

    name = NAME

    def __init__(
        self,
        record: Callable[[Event], None],
        *,
        node_id: str,
        allow_privileged: bool = False,
        registry_auth: Mapping[str, RegistryAuth] | None = None,
        engine: DockerEngine | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self._record = record
        self.node_id = node_id
        self.allow_privileged = allow_privileged
        self._auth = dict(registry_auth or {})
        self._engine = engine if engine is not None else DockerEngine()
        self._temporary = (
            None
            if log_dir is not None
            else tempfile.TemporaryDirectory(prefix="nunet-docker-logs-")
        )
        self._log_dir = log_dir if log_dir is not None else Path(self._temporary.name)  # type: ignore[union-attr]
        self._executions: dict[str, _Execution] = {}

    # --- lifecycle steps ---

    async def prepare(self, spec: ExecutionSpec) -> ExecutionStatus:
        if spec.id in self._executions:
            next_state(self._executions[spec.id].state, Input.PREPARED)  # always illegal here
        execution = _Execution(id=spec.id, limits=spec.limits)
        self._executions[spec.id] = execution
        try:
            checked = check_spec(spec, allow_privileged=self.allow_privileged)
            check_docker_spec(checked)
            image_id, digest = await self._resolve(checked)
            config = container_config(checked, image_id, self.node_id)
            execution.container = await self._create(checked, config)
        except ExecutorError as error:
            self._refuse(execution, error)
            raise
        execution.outputs = tuple(o.source for o in checked.outputs)
        execution.health_check = checked.health_check
        execution.state = next_state(execution.state, Input.PREPARED)
        self._record(
            ExecutionPrepared(execution=spec.id, executor=NAME, image=spec.image, digest=digest)
        )
        return execution.status()

    async def start(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        next_state(execution.state, Input.STARTED)  # refuse before touching the engine
        book = LogBook(self._log_path(execution_id), execution.limits.log_bytes)
        execution.book = book
        execution.attached.set()
        attached = asyncio.Event()
        pump = asyncio.create_task(self._pump(execution, book, attached))
        try:
            async with asyncio.timeout(30):
                await attached.wait()
            if pump.done():
                pump.result()  # the attach itself failed: raise its error
            started_at = time.time()
            await self._engine.start(execution.container)
        except (ExecutorError, TimeoutError) as error:
            pump.cancel()
            book.remove()
            with contextlib.suppress(ExecutorError):
                await self._engine.remove(execution.container)
            self._refuse(execution, _start_error(execution_id, error))
            raise _start_error(execution_id, error) from error
        execution.state = next_state(execution.state, Input.STARTED)
        # The engine's StartedAt is set once start returns, after a quick job's FinishedAt:
        # the wall time is measured from the start request instead.
        execution.started_at = started_at
        self._record(ExecutionStarted(execution=execution_id, executor=NAME))
        execution.tasks = [pump, asyncio.create_task(self._monitor(execution))]
        return execution.status()

    async def wait(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        await execution.done.wait()
        return execution.status()

    async def cancel(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        if execution.state is State.RUNNING:
            return await self._stop(execution, State.CANCELLED)
        if execution.state in FINISHED:
            return execution.status()  # it ended first: a cancel racing its end changes nothing
        execution.state = next_state(execution.state, Input.CANCELLED)
        execution.error = "cancelled before it started"
        self._finish_event(execution)
        return execution.status()

    async def logs(
        self, execution_id: str, *, follow: bool = False, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        execution = self._get(execution_id)
        if execution.book is None:
            if not follow or execution.done.is_set():
                return
            await _first_of(execution.attached.wait(), execution.done.wait())
            if execution.book is None:
                return
        async for line in execution.book.read(follow=follow, since=since):
            yield line

    async def status(self, execution_id: str) -> ExecutionStatus:
        return self._get(execution_id).status()

    async def health(self, execution_id: str) -> Health:
        execution = self._get(execution_id)
        if execution.state is not State.RUNNING:
            return Health(
                healthy=False, detail=f"execution {execution_id} is {execution.state.value}"
            )
        if not execution.health_check:
            return Health(healthy=True, detail="running (no health check)")
        try:
            async with asyncio.timeout(HEALTH_CHECK_S):
                return await self._run_health_check(execution)
        except TimeoutError:
            return Health(
                healthy=False, detail=f"the health check did not end within {HEALTH_CHECK_S:g} s"
            )
        except ExecutorError as error:
            return Health(healthy=False, detail=f"the health check could not run: {error}")

    async def cleanup(self, execution_id: str) -> None:
        execution = self._get(execution_id)
        next_state(execution.state, Input.CLEANED)
        # By name when its id is not known: a prepare cancelled while the engine was creating
        # the container may have left one behind.
        await self._remove(execution.container or container_name(self.node_id, execution_id))
        for task in execution.tasks:
            task.cancel()
        if execution.book is not None:
            execution.book.remove()
        else:
            self._log_path(execution_id).unlink(missing_ok=True)
        execution.state = next_state(execution.state, Input.CLEANED)
        self._record(ExecutionCleaned(execution=execution_id, executor=NAME))

    async def recover(self) -> list[str]:
        """Containers this node started (by label): running ones adopted, the others removed."""
        found = await self._engine.containers({NODE_LABEL: self.node_id})
        recovered: list[str] = []
        for summary in found:
            execution_id = summary["Labels"].get(EXECUTION_LABEL, "")
            if not execution_id or execution_id in self._executions:
                continue
            if summary["State"] == "running":
                await self._adopt(execution_id, summary)
                action = "adopted"
            else:
                await self._remove(summary["Id"])
                self._log_path(execution_id).unlink(missing_ok=True)
                action = "cleaned"
            self._record(ExecutionRecovered(execution=execution_id, executor=NAME, action=action))
            recovered.append(execution_id)
        return recovered

    async def close(self) -> None:
        """Stop watching; containers keep running and recover() finds them again."""
        tasks = [task for e in self._executions.values() for task in e.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for execution in self._executions.values():
            if execution.book is not None:
                execution.book.close()
        await self._engine.close()
        if self._temporary is not None:
            self._temporary.cleanup()

    # --- inside ---

    def _get(self, execution_id: str) -> _Execution:
        try:
            return self._executions[execution_id]
        except KeyError:
            raise UnknownExecution(
                f"no execution {execution_id!r} on this node's docker executor"
            ) from None

    def _log_path(self, execution_id: str) -> Path:
        return self._log_dir / f"{execution_id}.log"

    def _refuse(self, execution: _Execution, error: ExecutorError) -> None:
        execution.state = next_state(execution.state, Input.FAILED)
        execution.error = str(error)
        execution.done.set()
        self._record(
            ExecutionFailedToStart(
                execution=execution.id, executor=NAME, code=error.code, error=str(error)
            )
        )

    async def _resolve(self, spec: ExecutionSpec) -> tuple[str, str]:
        """The image's content id and digest, pulled if the node lacks it; ImageNotFound else."""
        reference = parse_reference(spec.image)
        found = await self._local_image(reference.name, reference.tag, reference.digest)
        if found is not None:
            return found
        auth = self._auth.get(reference.registry)
        try:
            await self._engine.pull(
                reference.name,
                reference.digest or reference.tag,
                auth_header(auth, reference.registry) if auth else None,
            )
        except EngineError as error:
            others = await self._engine.images_named(reference.name) if reference.digest else []
            if others:
                ids = ", ".join(str(image["Id"]) for image in others)
                raise ImageNotFound(
                    f"image {spec.image} is refused: {reference.name} is on this node only as "
                    f"{ids}, not the pinned {reference.digest}, and the pinned one cannot be "
                    f"pulled: {error.message}"
                ) from None
            raise ImageNotFound(
                f"image {spec.image} is not on this node and cannot be pulled: {error.message}"
            ) from None
        found = await self._local_image(reference.name, reference.tag, reference.digest)
        if found is None:
            raise ImageNotFound(f"image {spec.image} was pulled but the engine cannot find it")
        return found

    async def _local_image(self, name: str, tag: str, digest: str) -> tuple[str, str] | None:
        if not digest:
            try:
                image = await self._engine.inspect_image(f"{name}:{tag}")
            except EngineError as error:
                if error.status == 404:
                    return None
                raise
            repo_digests = image.get("RepoDigests") or []
            return str(image["Id"]), str(
                repo_digests[0].partition("@")[2] if repo_digests else image["Id"]
            )
        # Pinned: the engine's repo digests (pulled images), or the content id (images built
        # or imported here, which have no registry digest).
        for image in await self._engine.images_named(name):
            repo_digests = [d.partition("@")[2] for d in image.get("RepoDigests") or []]
            if digest == image["Id"] or digest in repo_digests:
                return str(image["Id"]), digest
        return None

    async def _create(self, spec: ExecutionSpec, config: dict[str, object]) -> str:
        name = container_name(self.node_id, spec.id)
        try:
            return await self._engine.create_container(name, config)
        except EngineError as error:
            if error.status == 409:
                raise IllegalTransition(
                    f"execution {spec.id}: a container {name} already exists on this engine "
                    "(recover() adopts or cleans what this node started)"
                ) from None
            raise ExecutionFailed(
                f"execution {spec.id}: the engine refused to create its container: {error.message}"
            ) from None

    async def _remove(self, container: str) -> None:
        try:
            await self._engine.remove(container)
        except EngineError as error:
            if error.status != 404:
                raise

    async def _pump(self, execution: _Execution, book: LogBook, attached: asyncio.Event) -> None:
        """The container's output into its log book, from attach until the container ends."""
        decoder = FrameDecoder()
        splitters: dict[Stream, LineSplitter] = {"stdout": LineSplitter(), "stderr": LineSplitter()}
        params = {"stream": 1, "stdout": 1, "stderr": 1}
        try:
            async with self._engine.stream(
                "POST", f"/containers/{execution.container}/attach", params=params
            ) as chunks:
                attached.set()
                async for chunk in chunks:
                    if book.is_full():  # count what is dropped without splitting it into lines
                        book.drop(sum(len(p) for _, p in decoder.feed(chunk)))
                        continue
                    at = time.time()
                    for stream, payload in decoder.feed(chunk):
                        book.append(stream, splitters[stream].feed(payload), at)
                    if book.is_full():
                        for splitter in splitters.values():
                            book.drop(splitter.discard())
            at = time.time()
            for name, splitter in splitters.items():
                book.append(name, splitter.flush(), at)
        except ExecutorError:
            if not attached.is_set():
                raise
        finally:
            attached.set()

    async def _monitor(self, execution: _Execution, deadline: float | None = None) -> None:
        """Sample usage while it runs; stop it at its timeout; settle its end."""
        timeout = execution.limits.timeout_seconds
        if deadline is None and timeout:
            deadline = time.monotonic() + timeout
        waiter = asyncio.create_task(self._engine.wait(execution.container))
        try:
            while not waiter.done():
                await self._sample(execution)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0 and execution.stopping is None:
                    execution.stopping = State.TIMED_OUT
                    await self._kill(execution)
                    continue
                pause = (
                    STATS_EVERY_S if remaining is None else min(STATS_EVERY_S, max(remaining, 0))
                )
                await asyncio.wait({waiter}, timeout=pause)
            waiter.result()
            await self._settle(execution)
        except ExecutorError as error:
            await self._lost(execution, error)
        finally:
            waiter.cancel()

    async def _sample(self, execution: _Execution) -> None:
        try:
            cpu, memory = cpu_and_memory(await self._engine.stats(execution.container))
        except EngineError:
            return  # gone between two samples: the last one stands
        execution.cpu_seconds = max(execution.cpu_seconds, cpu)
        execution.memory_peak = max(execution.memory_peak, memory)

    async def _kill(self, execution: _Execution) -> None:
        try:
            await self._engine.kill(execution.container)
        except EngineError as error:
            if error.status not in (404, 409):  # already gone or not running
                raise

    async def _stop(self, execution: _Execution, reason: State) -> ExecutionStatus:
        if execution.stopping is None:
            execution.stopping = reason
        await self._kill(execution)
        await execution.done.wait()
        return execution.status()

    async def _settle(self, execution: _Execution) -> None:
        pump = execution.tasks[0] if execution.tasks else None
        if pump is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(pump), LOG_DRAIN_S)
        ended = await self._engine.inspect_container(execution.container)
        state = ended["State"]
        finished_at = timestamp(state["FinishedAt"]) or time.time()
        execution.finished_at = max(finished_at, execution.started_at or finished_at)
        execution.exit_code = int(state["ExitCode"])
        if execution.outputs:
            execution.output_bytes = await asyncio.to_thread(outputs_bytes, execution.outputs)
        limits = execution.limits
        outcome, error = Input.EXITED, ""
        if execution.stopping is State.CANCELLED:
            outcome, error = Input.CANCELLED, "cancelled on request"
        elif execution.stopping is State.TIMED_OUT:
            outcome = Input.TIMED_OUT
            error = f"stopped at its timeout of {limits.timeout_seconds:g} s"
        elif state.get("OOMKilled"):
            outcome = Input.FAILED
            error = f"out of memory (limit {describe_bytes(limits.memory)})"
        elif execution.outputs and execution.output_bytes > limits.output_bytes:
            outcome = Input.FAILED
            error = (
                f"its outputs hold {describe_bytes(execution.output_bytes)} together, over the "
                f"output limit of {describe_bytes(limits.output_bytes)} (kept in "
                f"{', '.join(execution.outputs)} for inspection)"
            )
        elif state.get("Error"):
            outcome, error = Input.FAILED, str(state["Error"])
        execution.error = error
        execution.state = next_state(execution.state, outcome)
        self._finish_event(execution)

    async def _lost(self, execution: _Execution, error: ExecutorError) -> None:
        execution.error = f"lost track of its container: {error}"
        execution.finished_at = time.time()
        execution.state = next_state(execution.state, Input.FAILED)
        self._finish_event(execution)

    def _finish_event(self, execution: _Execution) -> None:
        if execution.book is not None:
            execution.book.close()
        status = execution.status()
        execution.done.set()
        self._record(
            ExecutionFinished(
                execution=execution.id,
                executor=NAME,
                state=status.state.value,
                exit_code=status.exit_code,
                error=status.error,
                cpu_seconds=status.usage.cpu_seconds,
                memory_peak=status.usage.memory_peak,
                wall_seconds=status.usage.wall_seconds,
                output_bytes=status.output_bytes,
                logs_dropped=status.logs_dropped,
            )
        )

    async def _run_health_check(self, execution: _Execution) -> Health:
        exec_id = await self._engine.exec_create(execution.container, list(execution.health_check))
        decoder, said = FrameDecoder(), b""
        async with self._engine.stream(
            "POST", f"/exec/{exec_id}/start", body={"Detach": False, "Tty": False}
        ) as chunks:
            async for chunk in chunks:
                said = (said + b"".join(p for _, p in decoder.feed(chunk)))[-512:]
        code = (await self._engine.exec_inspect(exec_id)).get("ExitCode")
        output = said.decode(errors="replace").strip()
        if code == 0:
            return Health(healthy=True, detail=output or "the health check exited 0")
        return Health(
            healthy=False,
            detail=f"the health check exited {code}" + (f": {output}" if output else ""),
        )

    async def _adopt(self, execution_id: str, summary: dict[str, object]) -> None:
        labels = summary["Labels"]
        assert isinstance(labels, dict)
        container = str(summary["Id"])
        inspected = await self._engine.inspect_container(container)
        limits = limits_of(labels)
        execution = _Execution(
            id=execution_id,
            limits=limits,
            outputs=tuple(o.source for o in outputs_of(labels)),
            health_check=health_check_of(labels),
            state=State.RUNNING,
            container=container,
            started_at=timestamp(inspected["State"]["StartedAt"]),
        )
        self._executions[execution_id] = execution
        book = LogBook(self._log_path(execution_id), limits.log_bytes)
        execution.book = book
        execution.attached.set()
        attached = asyncio.Event()
        pump = asyncio.create_task(self._pump(execution, book, attached))
        await attached.wait()
        deadline = None
        if limits.timeout_seconds and execution.started_at is not None:
            elapsed = time.time() - execution.started_at
            deadline = time.monotonic() + limits.timeout_seconds - elapsed
        execution.tasks = [pump, asyncio.create_task(self._monitor(execution, deadline))]


def _start_error(execution_id: str, error: Exception) -> ExecutorError:
    if isinstance(error, ExecutorError) and not isinstance(error, EngineError):
        return error
    cause = error.message if isinstance(error, EngineError) else "the engine did not attach in time"
    return ExecutionFailed(f"execution {execution_id} could not start: {cause}")


async def _first_of(*waits: Coroutine[object, object, object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
