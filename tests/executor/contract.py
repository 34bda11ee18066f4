"""The executor contract: every backend (Docker, QEMU microvm, Firecracker) must pass these tests.

A backend's test module subclasses ExecutorContract and supplies one fixture, `backend`: an
ExecutorBackend that opens executors (recording their events into a list), names the image to
run, and says what of an execution is left on the machine.

The image is any root filesystem with busybox's `sh` and the applets `cat dd date echo false
pwd sleep test true` on its PATH (the test images link every applet).

Capabilities a backend cannot offer are class attributes set to False on the subclass
(`supports_memory_oom = False`, ...): the tests needing them are then removed from the class, so
they are not collected at all (CI turns skips into failures). Where backends may differ and both
are right, a class attribute says which way this one goes (`keeps_outputs_over_the_limit`).
Tests never sleep to wait: they wait on the execution, with a timeout.
"""

from __future__ import annotations

import abc
import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from nunet.eventlog import Event
from nunet.executor import (
    ExecutionCleaned,
    ExecutionFailedToStart,
    ExecutionFinished,
    ExecutionPrepared,
    ExecutionSpec,
    ExecutionStarted,
    ExecutionStatus,
    Executor,
    ExecutorError,
    IllegalTransition,
    InvalidSpec,
    Limits,
    LogLine,
    Mount,
    OutputMount,
    State,
    UnknownExecution,
)

WAIT_S = 30.0
"""Seconds to wait for what should happen within a few seconds; reached only on failure."""

Test = TypeVar("Test", bound=Callable[..., Awaitable[None]])


def requires(capability: str) -> Callable[[Test], Test]:
    """Mark a contract test as needing `supports_<capability>` on the backend's subclass."""

    def mark(test: Test) -> Test:
        test.__dict__["contract_requires"] = capability
        return test

    return mark


class ExecutorBackend(abc.ABC):
    """What a backend's test module supplies to the contract."""

    image: str
    """The image reference every contract execution runs."""

    @abc.abstractmethod
    async def open(
        self, record: Callable[[Event], None], *, allow_privileged: bool = False
    ) -> Executor:
        """A fresh executor appending its events through `record`."""

    @abc.abstractmethod
    async def leftovers(self, execution_id: str) -> list[str]:
        """What of the execution is still on the machine (containers, VMs, files): [] when none."""


class Opened:
    """One executor opened for a test and the events it recorded, in order."""

    def __init__(self, executor: Executor, events: list[Event], backend: ExecutorBackend) -> None:
        self.executor = executor
        self.events = events
        self.backend = backend

    def spec(self, *command: str, **fields: Any) -> ExecutionSpec:
        """A spec running `command` (in `sh -c` when it is one string) in the backend's image."""
        argv = ("sh", "-c", command[0]) if len(command) == 1 else command
        execution_id = fields.pop("id", None) or f"t-{uuid.uuid4().hex[:12]}"
        image = fields.pop("image", self.backend.image)
        return ExecutionSpec(id=execution_id, image=image, command=argv, **fields)

    async def run(self, spec: ExecutionSpec) -> ExecutionStatus:
        """Prepare, start and wait for `spec`."""
        await self.executor.prepare(spec)
        await self.executor.start(spec.id)
        async with asyncio.timeout(WAIT_S):
            return await self.executor.wait(spec.id)

    async def lines(
        self, execution_id: str, *, follow: bool = False, since: float | None = None
    ) -> list[LogLine]:
        async with asyncio.timeout(WAIT_S):
            return [
                line async for line in self.executor.logs(execution_id, follow=follow, since=since)
            ]

    def events_of(self, execution_id: str) -> list[Event]:
        return [e for e in self.events if getattr(e, "execution", None) == execution_id]


def texts(lines: list[LogLine], stream: str | None = None) -> list[str]:
    return [line.text for line in lines if stream is None or line.stream == stream]


async def start_and_wait(opened: Opened, execution_id: str) -> str:
    """Start and wait; what the backend said about it: the error raised, or its error and logs."""
    try:
        await opened.executor.start(execution_id)
        async with asyncio.timeout(WAIT_S):
            status = await opened.executor.wait(execution_id)
    except ExecutorError as error:
        return str(error)
    return "\n".join([status.error, *texts(await opened.lines(execution_id))])


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` by its relative path, with its contents."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


BUSY_TWO_SECONDS = "end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do :; done"


class ExecutorContract:
    """Behaviour every Executor honours. Subclass it and override the `backend` fixture."""

    supports_memory_oom: ClassVar[bool] = True
    supports_privileged: ClassVar[bool] = True
    supports_outputs: ClassVar[bool] = True
    supports_separate_stderr: ClassVar[bool] = True
    # Outputs over the limit: written in place and kept for inspection (True), or held back
    # from the host directories entirely (False).
    keeps_outputs_over_the_limit: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            capability = getattr(getattr(cls, name), "contract_requires", None)
            if capability is not None and not getattr(cls, f"supports_{capability}"):
                setattr(cls, name, None)  # not callable: pytest does not collect it

    @pytest.fixture
    def backend(self) -> ExecutorBackend:
        raise NotImplementedError("an executor's test module overrides the backend fixture")

    @pytest.fixture
    async def opened(self, backend: ExecutorBackend) -> AsyncIterator[Opened]:
        events: list[Event] = []
        executor = await backend.open(events.append)
        try:
            yield Opened(executor, events, backend)
        finally:
            await executor.close()

    # --- running a job ---

    async def test_a_job_reports_its_exit_code_and_its_output_lines(self, opened: Opened) -> None:
        spec = opened.spec("echo out one; echo out two; echo oops >&2; exit 3")
        status = await opened.run(spec)
        assert status.state is State.EXITED
        assert status.exit_code == 3
        assert status.error == ""
        lines = await opened.lines(spec.id)
        if self.supports_separate_stderr:
            assert texts(lines, "stdout") == ["out one", "out two"]
            assert texts(lines, "stderr") == ["oops"]
        else:
            assert set(texts(lines)) >= {"out one", "out two", "oops"}

    async def test_a_job_that_succeeds_exits_zero(self, opened: Opened) -> None:
        status = await opened.run(opened.spec("true"))
        assert (status.state, status.exit_code) == (State.EXITED, 0)

    async def test_env_working_dir_entrypoint_and_command_are_applied(self, opened: Opened) -> None:
        spec = ExecutionSpec(
            id=f"t-{uuid.uuid4().hex[:12]}",
            image=opened.backend.image,
            entrypoint=("sh", "-c"),
            command=('echo "$GREETING from $(pwd) as $0"', "argv0"),
            env={"GREETING": "hello world"},
            working_dir="/tmp",
        )
        status = await opened.run(spec)
        assert status.exit_code == 0
        assert "hello world from /tmp as argv0" in texts(await opened.lines(spec.id))

    async def test_a_command_that_does_not_exist_fails_clearly(self, opened: Opened) -> None:
        spec = opened.spec("/no/such/program", "arg")
        await opened.executor.prepare(spec)
        said = await start_and_wait(opened, spec.id)
        status = await opened.executor.status(spec.id)
        # refused at start (FAILED), or run and ended by the program's absence (exit code)
        assert status.state is State.FAILED or status.exit_code not in (None, 0)
        assert "/no/such/program" in said

    # --- mounts ---

    @requires("outputs")
    async def test_inputs_are_read_only_and_outputs_appear_on_the_host(
        self, opened: Opened, tmp_path: Path
    ) -> None:
        inputs, outputs = tmp_path / "in", tmp_path / "out"
        inputs.mkdir()
        outputs.mkdir()
        (inputs / "data.txt").write_text("payload\n")
        spec = opened.spec(
            "cat /data/in/data.txt > /outputs/copy.txt; "
            "if echo x > /data/in/new.txt; then echo writable; else echo read-only; fi",
            inputs=(Mount(source=str(inputs), target="/data/in"),),
            outputs=(OutputMount(source=str(outputs), target="/outputs"),),
        )
        status = await opened.run(spec)
        assert status.exit_code == 0
        assert (outputs / "copy.txt").read_text() == "payload\n"
        assert not (inputs / "new.txt").exists()
        assert "read-only" in texts(await opened.lines(spec.id))
        assert status.output_bytes == len("payload\n")

    @requires("outputs")
    async def test_outputs_over_the_size_limit_fail_the_execution(
        self, opened: Opened, tmp_path: Path
    ) -> None:
        spec = opened.spec(
            "dd if=/dev/zero of=/outputs/big bs=1024 count=8",
            outputs=(OutputMount(source=str(tmp_path), target="/outputs"),),
            limits=Limits(output_bytes=4096),
        )
        status = await opened.run(spec)
        assert status.state is State.FAILED
        assert "output" in status.error
        assert "4096" in status.error
        assert status.output_bytes == 8192

    @requires("outputs")
    async def test_two_outputs_each_land_in_their_own_host_directory(
        self, opened: Opened, tmp_path: Path
    ) -> None:
        results, logs = tmp_path / "results", tmp_path / "logs"
        results.mkdir()
        logs.mkdir()
        spec = opened.spec(
            "echo 42 > /results/answer.txt; mkdir /results/parts; echo a > /results/parts/a; "
            "echo run one > /logs/run/run.log",
            outputs=(
                OutputMount(source=str(results), target="/results"),
                OutputMount(source=str(logs), target="/logs/run"),
            ),
        )
        status = await opened.run(spec)
        assert (status.state, status.exit_code) == (State.EXITED, 0), status.error
        assert files_under(results) == {"answer.txt": b"42\n", "parts/a": b"a\n"}
        assert files_under(logs) == {"run.log": b"run one\n"}
        assert status.output_bytes == len("42\n") + len("a\n") + len("run one\n")

    @requires("outputs")
    async def test_the_output_limit_bounds_the_sum_of_all_outputs(
        self, opened: Opened, tmp_path: Path
    ) -> None:
        first, second = tmp_path / "first", tmp_path / "second"
        first.mkdir()
        second.mkdir()
        spec = opened.spec(  # 3 KiB each: each under the 4 KiB limit, together over it
            "dd if=/dev/zero of=/first/part bs=1024 count=3; "
            "dd if=/dev/zero of=/second/part bs=1024 count=3",
            outputs=(
                OutputMount(source=str(first), target="/first"),
                OutputMount(source=str(second), target="/second"),
            ),
            limits=Limits(output_bytes=4096),
        )
        status = await opened.run(spec)
        assert status.state is State.FAILED
        assert status.output_bytes == 6144
        assert "6144" in status.error
        assert "4096" in status.error
        kept = {"part": bytes(3072)} if self.keeps_outputs_over_the_limit else {}
        assert (files_under(first), files_under(second)) == (kept, kept)

    # --- logs ---

    async def test_logs_since_return_only_the_lines_seen_from_then_on(self, opened: Opened) -> None:
        spec = opened.spec("echo first; sleep 1; echo second")
        await opened.run(spec)
        first, second = await opened.lines(spec.id)
        assert (first.text, second.text) == ("first", "second")
        assert first.at < second.at
        assert texts(await opened.lines(spec.id, since=second.at)) == ["second"]
        assert texts(await opened.lines(spec.id, since=first.at)) == ["first", "second"]

    async def test_logs_follow_streams_lines_until_the_job_finishes(self, opened: Opened) -> None:
        spec = opened.spec("for i in 1 2 3; do echo line $i; sleep 0.2; done")
        await opened.executor.prepare(spec)
        await opened.executor.start(spec.id)
        followed = await opened.lines(spec.id, follow=True)
        assert texts(followed) == ["line 1", "line 2", "line 3"]
        status = await opened.executor.status(spec.id)
        assert status.state is State.EXITED

    async def test_logs_over_the_limit_are_dropped_and_counted(self, opened: Opened) -> None:
        spec = opened.spec(
            "i=0; while [ $i -lt 200 ]; do echo 0123456789abcdef; i=$((i+1)); done",
            limits=Limits(log_bytes=170),
        )
        status = await opened.run(spec)
        assert status.exit_code == 0
        kept = texts(await opened.lines(spec.id))
        assert kept == ["0123456789abcdef"] * 10  # 17 bytes a line, newline included
        assert status.logs_dropped == 200 * 17 - 170

    # --- waiting, cancelling, limits ---

    async def test_wait_after_the_end_returns_the_same_status(self, opened: Opened) -> None:
        spec = opened.spec("exit 7")
        first = await opened.run(spec)
        assert await opened.executor.wait(spec.id) == first
        assert await opened.executor.status(spec.id) == first

    async def test_cancel_stops_a_running_job_and_cleanup_leaves_nothing(
        self, opened: Opened
    ) -> None:
        spec = opened.spec("sleep 60")
        await opened.executor.prepare(spec)
        await opened.executor.start(spec.id)
        cancelled = await opened.executor.cancel(spec.id)
        assert cancelled.state is State.CANCELLED
        async with asyncio.timeout(WAIT_S):
            assert (await opened.executor.wait(spec.id)).state is State.CANCELLED
        await opened.executor.cleanup(spec.id)
        assert await opened.backend.leftovers(spec.id) == []

    async def test_a_prepared_job_can_be_cancelled_before_it_starts(self, opened: Opened) -> None:
        spec = opened.spec("echo never")
        await opened.executor.prepare(spec)
        assert (await opened.executor.cancel(spec.id)).state is State.CANCELLED
        with pytest.raises(IllegalTransition):
            await opened.executor.start(spec.id)
        await opened.executor.cleanup(spec.id)
        assert await opened.backend.leftovers(spec.id) == []

    async def test_a_job_past_its_timeout_is_stopped_and_timed_out(self, opened: Opened) -> None:
        spec = opened.spec("sleep 60", limits=Limits(timeout_seconds=1.0))
        status = await opened.run(spec)
        assert status.state is State.TIMED_OUT
        assert "timeout" in status.error
        await opened.executor.cleanup(spec.id)
        assert await opened.backend.leftovers(spec.id) == []

    @requires("memory_oom")
    async def test_a_job_over_its_memory_limit_fails_out_of_memory(self, opened: Opened) -> None:
        spec = opened.spec(
            "dd if=/dev/zero of=/dev/null bs=64M count=1", limits=Limits(memory=16 << 20)
        )
        status = await opened.run(spec)
        assert status.state is State.FAILED
        assert "out of memory" in status.error
        assert str(16 << 20) in status.error or "16.0MiB" in status.error

    async def test_usage_is_reported_for_a_busy_job(self, opened: Opened) -> None:
        status = await opened.run(opened.spec(BUSY_TWO_SECONDS))
        assert status.exit_code == 0
        assert status.usage.cpu_seconds > 0
        assert status.usage.wall_seconds > 0
        assert status.usage.memory_peak > 0
        assert status.started_at is not None
        assert status.finished_at is not None
        assert status.finished_at >= status.started_at

    # --- health ---

    async def test_health_check_says_healthy_or_unhealthy(self, opened: Opened) -> None:
        good = opened.spec("sleep 60", health_check=("true",))
        bad = opened.spec("sleep 60", health_check=("false",))
        for spec in (good, bad):
            await opened.executor.prepare(spec)
            await opened.executor.start(spec.id)
        assert (await opened.executor.health(good.id)).healthy
        unhealthy = await opened.executor.health(bad.id)
        assert not unhealthy.healthy
        assert unhealthy.detail
        for spec in (good, bad):
            await opened.executor.cancel(spec.id)
            await opened.executor.cleanup(spec.id)

    async def test_a_finished_job_is_not_healthy(self, opened: Opened) -> None:
        spec = opened.spec("true", health_check=("true",))
        await opened.run(spec)
        health = await opened.executor.health(spec.id)
        assert not health.healthy
        assert "exited" in health.detail

    # --- cleanup ---

    async def test_cleanup_leaves_nothing_and_the_execution_reads_cleaned(
        self, opened: Opened
    ) -> None:
        spec = opened.spec("echo bye")
        await opened.run(spec)
        await opened.executor.cleanup(spec.id)
        assert await opened.backend.leftovers(spec.id) == []
        assert (await opened.executor.status(spec.id)).state is State.CLEANED
        with pytest.raises(IllegalTransition, match="cleaned"):
            await opened.executor.cleanup(spec.id)

    # --- illegal steps and bad input ---

    async def test_steps_out_of_order_are_illegal_transitions(self, opened: Opened) -> None:
        spec = opened.spec("sleep 60")
        await opened.executor.prepare(spec)
        with pytest.raises(IllegalTransition):
            await opened.executor.prepare(spec)  # the id is taken: prepared twice
        await opened.executor.start(spec.id)
        with pytest.raises(IllegalTransition, match="running cannot be started"):
            await opened.executor.start(spec.id)
        with pytest.raises(IllegalTransition, match="running cannot be cleaned"):
            await opened.executor.cleanup(spec.id)
        await opened.executor.cancel(spec.id)
        with pytest.raises(IllegalTransition, match="cancelled cannot be started"):
            await opened.executor.start(spec.id)
        await opened.executor.cleanup(spec.id)

    async def test_a_refused_prepare_cannot_be_started(self, opened: Opened) -> None:
        spec = opened.spec("true", privileged=True)
        with pytest.raises(InvalidSpec):
            await opened.executor.prepare(spec)
        with pytest.raises(IllegalTransition, match="failed cannot be started"):
            await opened.executor.start(spec.id)
        assert await opened.backend.leftovers(spec.id) == []

    @pytest.mark.parametrize(
        "step", ["start", "wait", "cancel", "status", "health", "cleanup", "logs"]
    )
    async def test_an_unknown_execution_id_is_named_in_the_error(
        self, opened: Opened, step: str
    ) -> None:
        executor = opened.executor
        calls: dict[str, Callable[[str], Awaitable[object]]] = {
            "start": executor.start,
            "wait": executor.wait,
            "cancel": executor.cancel,
            "status": executor.status,
            "health": executor.health,
            "cleanup": executor.cleanup,
            "logs": lambda i: opened.lines(i),
        }
        with pytest.raises(UnknownExecution, match="t-never-prepared"):
            await calls[step]("t-never-prepared")

    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"id": "Not An Id!"}, "id"),
            ({"image": ""}, "image"),
            ({"inputs": (Mount(source="relative/dir", target="/in"),)}, "source"),
            (
                {"outputs": (OutputMount(source="relative/out", target="/out"),)},
                "outputs[0].source",
            ),
            (
                {
                    "outputs": (
                        OutputMount(source="/nonexistent/a", target="/out"),
                        OutputMount(source="/nonexistent/b", target="/out/sub"),
                    )
                },
                "outputs[1].target",
            ),
            (
                {
                    "inputs": (Mount(source="/nonexistent/in", target="/data"),),
                    "outputs": (OutputMount(source="/nonexistent/out", target="/data"),),
                },
                "outputs[0].target",
            ),
            ({"limits": Limits(cpu=0)}, "cpu"),
            ({"limits": Limits(memory=1024)}, "memory"),
            ({"env": {"A=B": "c"}}, "env"),
            ({"entrypoint": ()}, "entrypoint"),
        ],
    )
    async def test_a_malformed_spec_is_refused_naming_the_field(
        self, opened: Opened, fields: dict[str, Any], named: str
    ) -> None:
        spec = opened.spec("true", **fields)
        with pytest.raises(InvalidSpec, match=re.escape(named)):
            await opened.executor.prepare(spec)
        refused = [e for e in opened.events if isinstance(e, ExecutionFailedToStart)]
        assert len(refused) == 1
        assert refused[0].code == "invalid-spec"
        assert named in refused[0].error
        assert await opened.backend.leftovers(spec.id) == []

    async def test_privileged_is_refused_unless_the_node_allows_it(self, opened: Opened) -> None:
        spec = opened.spec("true", privileged=True)
        with pytest.raises(InvalidSpec, match="privileged"):
            await opened.executor.prepare(spec)

    @requires("privileged")
    async def test_privileged_runs_where_the_node_allows_it(self, backend: ExecutorBackend) -> None:
        events: list[Event] = []
        executor = await backend.open(events.append, allow_privileged=True)
        try:
            opened = Opened(executor, events, backend)
            spec = opened.spec("echo ok", privileged=True)
            status = await opened.run(spec)
            assert (status.state, status.exit_code) == (State.EXITED, 0)
            await executor.cleanup(spec.id)
        finally:
            await executor.close()

    # --- events ---

    async def test_every_step_of_a_run_is_an_event_in_order(self, opened: Opened) -> None:
        spec = opened.spec("exit 4")
        await opened.run(spec)
        await opened.executor.cleanup(spec.id)
        events = opened.events_of(spec.id)
        assert [type(e) for e in events] == [
            ExecutionPrepared,
            ExecutionStarted,
            ExecutionFinished,
            ExecutionCleaned,
        ]
        prepared, _, finished, _ = events
        assert isinstance(prepared, ExecutionPrepared)
        assert prepared.image == spec.image
        assert isinstance(finished, ExecutionFinished)
        assert (finished.state, finished.exit_code) == ("exited", 4)
        assert finished.wall_seconds > 0
