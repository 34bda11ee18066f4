"""MicroVMExecutor: the Executor interface over microVMs (QEMU `microvm` or Firecracker). Each
execution is one VM booted from the image's initramfs, driven by the pure lifecycle; its console
is parsed into logs, health and the exit; every step is an event.

Files of an execution live in `<state_dir>/vms/<id>/` (job drive, input and output images,
`vm.json` with the VMM's pid): `cleanup` removes it, `recover` removes what a previous node left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

from nunet.eventlog import Event
from nunet.executor.errors import (
    ExecutionFailed,
    ExecutorError,
    ExecutorUnavailable,
    InvalidSpec,
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
from nunet.executor.microvm import drives
from nunet.executor.microvm.checks import check_spec
from nunet.executor.microvm.console import (
    ConsoleParser,
    Exited,
    Fact,
    GuestError,
    HealthReport,
    NotFound,
    Output,
    Started,
)
from nunet.executor.microvm.firecracker import (
    compose_vm,
    extract_vmlinux,
    find_firecracker,
    launch_firecracker,
)
from nunet.executor.microvm.guest import (
    JOB_DRIVE_SERIAL,
    GuestMount,
    GuestPlan,
    job_script,
    output_drive_serial,
)
from nunet.executor.microvm.kernel import guest_modules, require_kernel
from nunet.executor.microvm.qemu import (
    Accel,
    Drive,
    MachinePlan,
    find_qemu,
    kvm_works,
    memory_mib_for,
    qemu_argv,
    vcpus_for,
)
from nunet.executor.microvm.rootfs import DOCKER_SOCKET, ImageConfig, ImageStore, is_static_elf
from nunet.executor.microvm.vm import Ended, VMProcess
from nunet.executor.spec import ExecutionSpec

Backend = Literal["qemu", "firecracker"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MIB = 1 << 20
EXIT_GRACE_SECONDS = 2.0  # after the guest reported the exit, how long its VMM may take to end
BOOT_TIMEOUT_SECONDS = 15.0  # a guest whose init has not started the job by then is booted again
BOOT_ATTEMPTS = 2  # software emulation (TCG) on a loaded host now and then stalls a boot for good


class _Execution:
    """What the executor knows of one execution; its state moves only through next_state."""

    def __init__(self, spec: ExecutionSpec) -> None:
        self.spec = spec
        self.state = State.PENDING
        self.directory: Path | None = None
        self.initrd: Path | None = None
        self.nonce = uuid.uuid4().hex
        self.drives: tuple[Drive, ...] = ()
        self.process: VMProcess | None = None
        self.supervisor: asyncio.Task[None] | None = None
        self.lines: list[LogLine] = []
        self.kept_bytes = 0
        self.dropped = 0
        self.changed = asyncio.Event()
        self.finished = asyncio.Event()
        self.health: HealthReport | None = None
        self.health_seen = asyncio.Event()
        self.exit_code: int | None = None
        self.error = ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.usage = Usage()
        self.output_bytes = 0
        self.stop_reason: Input | None = None  # CANCELLED / TIMED_OUT once the host stops it
        self.booted = False  # the guest's init said `started`
        self.boot_stalled = False  # the VMM was killed because the guest did not boot in time

    def move(self, event: Input) -> None:
        self.state = next_state(self.state, event)

    def add_line(self, stream: Literal["stdout", "stderr", "console"], text: str) -> None:
        size = len(text.encode()) + 1
        if self.dropped or self.kept_bytes + size > self.spec.limits.log_bytes:
            self.dropped += size  # once over the limit, the rest is dropped (and counted)
        else:
            self.kept_bytes += size
            self.lines.append(LogLine(stream=stream, text=text, at=time.time()))
        self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def end(self) -> None:
        self.finished.set()
        self.health_seen.set()
        self._notify()


class MicroVMExecutor:
    """Executor over microVMs. `kernel`: the guest kernel image (see `ensure_kernel`)."""

    def __init__(
        self,
        record: Callable[[Event], object],
        *,
        node_id: str,
        kernel: Path,
        state_dir: Path,
        backend: Backend = "qemu",
        accel: Literal["auto", "kvm", "tcg"] = "auto",
        docker_socket: Path = DOCKER_SOCKET,
        busybox: Path | None = None,
        allow_privileged: bool = False,
        boot_timeout_seconds: float = BOOT_TIMEOUT_SECONDS,
    ) -> None:
        self.name = f"microvm-{backend}"
        self._boot_timeout = boot_timeout_seconds
        self._record = record
        self._node_id = node_id
        self._kernel = kernel
        self._state_dir = state_dir
        self._backend = backend
        self._accel_choice = accel
        self._accel: Accel | None = None if accel == "auto" else accel
        self._docker_socket = docker_socket
        self._busybox = busybox
        self._allow_privileged = allow_privileged
        self._executions: dict[str, _Execution] = {}
        self._images: ImageStore | None = None

    # --- readiness ---

    def _vms_dir(self) -> Path:
        return self._state_dir / "vms"

    def _image_store(self) -> ImageStore:
        """Kernel, busybox, VMM and e2fsprogs present, or ExecutorUnavailable naming what is not."""
        kernel = require_kernel(self._kernel)
        if self._backend == "qemu":
            find_qemu()
        else:
            find_firecracker()
        drives.require_e2fsprogs()
        if self._images is None:
            busybox = self._busybox or Path(shutil.which("busybox") or "/bin/busybox")
            if not busybox.is_file() or not is_static_elf(busybox):
                raise ExecutorUnavailable(
                    f"the guest init needs a statically linked busybox, not found at {busybox}: "
                    "apt-get install busybox-static"
                )
            self._busybox = busybox
            self._images = ImageStore(
                self._state_dir / "images",
                busybox=busybox,
                modules=guest_modules(kernel),
                docker_socket=self._docker_socket,
            )
        return self._images

    async def accelerator(self) -> Accel:
        """KVM when asked, or when "auto" and a bounded probe boot works; else TCG."""
        if self._accel is None:
            assert self._busybox is not None
            works = await kvm_works(require_kernel(self._kernel), self._busybox)
            self._accel = "kvm" if works else "tcg"
        return self._accel

    # --- the lifecycle ---

    def _get(self, execution_id: str) -> _Execution:
        try:
            return self._executions[execution_id]
        except KeyError:
            raise UnknownExecution(
                f"no execution {execution_id!r} on this {self.name} executor"
            ) from None

    async def prepare(self, spec: ExecutionSpec) -> ExecutionStatus:
        existing = self._executions.get(spec.id)
        if existing is not None:
            existing.move(Input.PREPARED)  # IllegalTransition: the id is taken
        execution = _Execution(spec)
        self._executions[spec.id] = execution
        try:
            check_spec(spec, allow_privileged=self._allow_privileged)
            images = self._image_store()
            config = await images.inspect(spec.image)
            execution.initrd = await images.initramfs(spec.image, config)
            await asyncio.to_thread(self._build_drives, execution, config)
        except ExecutorError as error:
            self._refuse(execution, error)
            raise
        execution.move(Input.PREPARED)
        self._record(
            ExecutionPrepared(
                execution=spec.id, executor=self.name, image=spec.image, digest=config.id
            )
        )
        return self._status(execution)

    def _refuse(self, execution: _Execution, error: ExecutorError) -> None:
        execution.move(Input.FAILED)
        execution.error = str(error)
        if execution.directory is not None:
            shutil.rmtree(execution.directory, ignore_errors=True)
        self._record(
            ExecutionFailedToStart(
                execution=execution.spec.id, executor=self.name, code=error.code, error=str(error)
            )
        )

    def _build_drives(self, execution: _Execution, config: ImageConfig) -> None:
        spec = execution.spec
        argv = _argv(spec, config)
        mkfs, _ = drives.require_e2fsprogs()
        directory = self._vms_dir() / spec.id
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        execution.directory = directory
        attached = [Drive(serial=JOB_DRIVE_SERIAL, path=str(directory / "job.tar"), read_only=True)]
        mounts = []
        for index, mount in enumerate(spec.inputs):
            serial = f"nunet-in{index}"
            image = directory / f"in{index}.img"
            file_name = drives.build_input_image(
                mkfs, Path(mount.source), image, directory / f"in{index}.staging"
            )
            shutil.rmtree(directory / f"in{index}.staging", ignore_errors=True)
            mounts.append(
                GuestMount(
                    serial=serial,
                    device=_device(len(attached)),
                    target=mount.target,
                    read_only=True,
                    file_name=file_name,
                )
            )
            attached.append(Drive(serial=serial, path=str(image), read_only=True))
        outputs = []
        for index, output in enumerate(spec.outputs):
            # Each drive can hold the whole limit (sparse: only what is written takes space);
            # the limit bounds their sum, checked once they are read back.
            serial = output_drive_serial(index)
            image = directory / f"out{index}.img"
            drives.build_output_image(mkfs, image, spec.limits.output_bytes)
            outputs.append(
                GuestMount(
                    serial=serial,
                    device=_device(len(attached)),
                    target=output.target,
                    read_only=False,
                )
            )
            attached.append(Drive(serial=serial, path=str(image), read_only=False))
        env = {**config.env, **spec.env}
        env.setdefault("PATH", DEFAULT_PATH)
        plan = GuestPlan(
            nonce=execution.nonce,
            argv=argv,
            env=env,
            working_dir=spec.working_dir or config.working_dir,
            memory_bytes=spec.limits.memory,
            cpu_quota=spec.limits.cpu,
            inputs=tuple(mounts),
            outputs=tuple(outputs),
            health_check=spec.health_check,
        )
        drives.write_job_drive(directory / "job.tar", {"job.sh": job_script(plan).encode()})
        execution.drives = tuple(attached)
        _write_json(directory / "vm.json", {"id": spec.id, "node": self._node_id, "pid": None})

    async def start(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        next_state(execution.state, Input.STARTED)  # refused before anything is spent
        try:
            execution.process = await self._launch(execution)
        except ExecutorError as error:
            execution.move(Input.FAILED)
            execution.error = str(error)
            execution.end()
            self._record(
                ExecutionFailedToStart(
                    execution=execution_id, executor=self.name, code=error.code, error=str(error)
                )
            )
            raise
        execution.move(Input.STARTED)
        execution.started_at = time.time()
        self._remember_vmm(execution, execution.process)
        self._record(ExecutionStarted(execution=execution_id, executor=self.name))
        execution.supervisor = asyncio.create_task(
            self._supervise(execution, execution.process), name=f"microvm:{execution_id}"
        )
        return self._status(execution)

    def _remember_vmm(self, execution: _Execution, process: VMProcess) -> None:
        """Where recover() finds the VMM after a node restart."""
        assert execution.directory is not None
        _write_json(
            execution.directory / "vm.json",
            {"id": execution.spec.id, "node": self._node_id, "pid": process.pid},
        )

    async def _launch(self, execution: _Execution) -> VMProcess:
        spec, directory, initrd = execution.spec, execution.directory, execution.initrd
        assert directory is not None
        assert initrd is not None
        memory = memory_mib_for(spec.limits.memory, initrd.stat().st_size)
        vcpus = vcpus_for(spec.limits.cpu)
        if self._backend == "firecracker":
            binary = find_firecracker()
            vmlinux = extract_vmlinux(self._kernel, self._state_dir / "vmlinux")
            vm = compose_vm(
                vmlinux=vmlinux,
                initrd=initrd,
                drives=execution.drives,
                memory_mib=memory,
                vcpus=vcpus,
            )
            return await launch_firecracker(binary, vm, workdir=directory, vm_id=spec.id)
        plan = MachinePlan(
            kernel=str(require_kernel(self._kernel)),
            initrd=str(initrd),
            drives=execution.drives,
            memory_mib=memory,
            vcpus=vcpus,
            accel=await self.accelerator(),
        )
        return VMProcess(qemu_argv(find_qemu(), plan), cwd=directory, stderr=directory / "vmm.err")

    async def _supervise(self, execution: _Execution, process: VMProcess) -> None:
        facts: list[Fact] = []
        timeout = execution.spec.limits.timeout_seconds
        timer = (
            asyncio.get_running_loop().call_later(timeout, self._stop, execution, Input.TIMED_OUT)
            if timeout
            else None
        )
        try:
            for attempt in range(1, BOOT_ATTEMPTS + 1):
                ended = await self._boot_once(execution, process, facts)
                if not execution.boot_stalled or execution.stop_reason is not None:
                    break
                if attempt == BOOT_ATTEMPTS:
                    facts.append(
                        GuestError(
                            f"the guest did not boot within {self._boot_timeout:g} s, "
                            f"{BOOT_ATTEMPTS} times"
                        )
                    )
                    break
                execution.add_line(
                    "console",
                    f"nunet: the guest did not boot within {self._boot_timeout:g} s; "
                    "booting it again",
                )
                execution.boot_stalled = False
                process = execution.process = await self._launch(execution)
                self._remember_vmm(execution, process)
        finally:
            if timer is not None:
                timer.cancel()
            process.kill()
        execution.usage = Usage(
            cpu_seconds=ended.usage.cpu_seconds,
            memory_peak=ended.usage.memory_peak,
            wall_seconds=time.time() - (execution.started_at or time.time()),
        )
        await asyncio.to_thread(self._conclude, execution, facts, ended.returncode)
        execution.finished_at = time.time()
        self._record(
            ExecutionFinished(
                execution=execution.spec.id,
                executor=self.name,
                state=execution.state.value,
                exit_code=execution.exit_code,
                error=execution.error,
                cpu_seconds=execution.usage.cpu_seconds,
                memory_peak=execution.usage.memory_peak,
                wall_seconds=execution.usage.wall_seconds,
                output_bytes=execution.output_bytes,
                logs_dropped=execution.dropped,
            )
        )
        execution.end()

    async def _boot_once(
        self, execution: _Execution, process: VMProcess, facts: list[Fact]
    ) -> Ended:
        """Run one boot to its end: the console's facts taken, the VMM killed if the guest has
        not started the job within the boot timeout."""
        parser = ConsoleParser(execution.nonce)
        watchdog = asyncio.get_running_loop().call_later(
            self._boot_timeout, self._boot_stalled, execution, process
        )
        try:
            async for chunk in process.console():
                for fact in parser.feed(chunk):
                    self._take(execution, fact, facts)
            for fact in parser.close():
                self._take(execution, fact, facts)
            return await process.ended
        finally:
            watchdog.cancel()

    def _boot_stalled(self, execution: _Execution, process: VMProcess) -> None:
        if not execution.booted and execution.stop_reason is None:
            execution.boot_stalled = True
            process.kill()

    def _take(self, execution: _Execution, fact: Fact, facts: list[Fact]) -> None:
        if isinstance(fact, Output):
            execution.add_line(fact.stream, fact.text)
        elif isinstance(fact, Exited):
            facts.append(fact)
            # The guest halts itself next; a VMM that does not end on its own is ended.
            if execution.process is not None:
                asyncio.get_running_loop().call_later(EXIT_GRACE_SECONDS, execution.process.kill)
        elif isinstance(fact, HealthReport):
            execution.health = fact
            execution.health_seen.set()
        elif isinstance(fact, Started):
            execution.booted = True
        else:
            facts.append(fact)

    def _stop(self, execution: _Execution, reason: Input) -> None:
        if execution.stop_reason is None:
            execution.stop_reason = reason
        if execution.process is not None:
            execution.process.kill()

    def _conclude(self, execution: _Execution, facts: list[Fact], returncode: int) -> None:
        """The finished state from what the console said and why the VMM ended."""
        spec = execution.spec
        exited = next((fact for fact in facts if isinstance(fact, Exited)), None)
        if execution.stop_reason is Input.CANCELLED:
            execution.error = "cancelled: the VM was stopped on request"
            execution.move(Input.CANCELLED)
            return
        if execution.stop_reason is Input.TIMED_OUT and exited is None:
            execution.error = f"stopped at its timeout of {spec.limits.timeout_seconds:g} s"
            execution.move(Input.TIMED_OUT)
            return
        if exited is None:
            execution.error = self._why_no_exit(execution, facts, returncode)
            execution.move(Input.FAILED)
            return
        execution.exit_code = exited.code
        if exited.oom_kills:
            limit = spec.limits.memory
            execution.error = (
                f"out of memory: the job went over its memory limit of {limit} bytes "
                f"({limit / _MIB:.1f}MiB) and the guest kernel killed it"
            )
            execution.move(Input.FAILED)
            return
        if spec.outputs and not self._collect_outputs(execution):
            execution.move(Input.FAILED)
            return
        execution.move(Input.EXITED)

    def _why_no_exit(self, execution: _Execution, facts: list[Fact], returncode: int) -> str:
        for fact in facts:
            if isinstance(fact, NotFound):
                return f"the program {fact.program!r} was not found in the image {execution.spec.image!r}"
            if isinstance(fact, GuestError):
                return f"the guest could not run the job: {fact.reason}"
        assert execution.directory is not None
        vmm = (execution.directory / "vmm.err").read_text(errors="replace").strip()[-400:]
        console = " | ".join(line.text for line in execution.lines if line.stream == "console")
        return (
            f"the VM stopped (VMM exit {returncode}) without reporting the job's end"
            + (f"; VMM said: {vmm}" if vmm else "")
            + (f"; console: {console[-400:]}" if console else "")
        )

    def _collect_outputs(self, execution: _Execution) -> bool:
        """Every output drive read back into the VM's directory; only if they hold no more
        than the output limit together is each moved into its own host directory."""
        spec, directory = execution.spec, execution.directory
        assert directory is not None
        _, debugfs = drives.require_e2fsprogs()
        staged = [directory / f"outputs{index}" for index in range(len(spec.outputs))]
        try:
            execution.output_bytes = sum(
                drives.extract_outputs(debugfs, directory / f"out{index}.img", staging)
                for index, staging in enumerate(staged)
            )
        except ExecutionFailed as error:
            execution.error = str(error)
            return False
        limit = spec.limits.output_bytes
        if execution.output_bytes > limit:
            execution.error = (
                f"the outputs hold {execution.output_bytes} bytes together, over the output "
                f"limit of {limit} bytes: nothing was copied to "
                + ", ".join(output.source for output in spec.outputs)
            )
            return False
        for output, staging in zip(spec.outputs, staged, strict=True):
            drives.move_tree(staging, Path(output.source))
        return True

    async def wait(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        if execution.state not in FINISHED and execution.state is not State.CLEANED:
            await execution.finished.wait()
        return self._status(execution)

    async def cancel(self, execution_id: str) -> ExecutionStatus:
        execution = self._get(execution_id)
        if execution.state is not State.RUNNING:
            execution.move(Input.CANCELLED)
            execution.error = "cancelled before it started"
            execution.finished_at = time.time()
            self._record(
                ExecutionFinished(
                    execution=execution_id,
                    executor=self.name,
                    state=execution.state.value,
                    error=execution.error,
                )
            )
            execution.end()
            return self._status(execution)
        self._stop(execution, Input.CANCELLED)
        await execution.finished.wait()
        return self._status(execution)

    async def logs(
        self, execution_id: str, *, follow: bool = False, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        execution = self._get(execution_id)
        position = 0
        while True:
            changed = execution.changed
            while position < len(execution.lines):
                line = execution.lines[position]
                position += 1
                if since is None or line.at >= since:
                    yield line
            if not follow or execution.finished.is_set() or execution.state in FINISHED:
                return
            if execution.state is State.CLEANED:
                return
            await changed.wait()

    async def status(self, execution_id: str) -> ExecutionStatus:
        return self._status(self._get(execution_id))

    def _status(self, execution: _Execution) -> ExecutionStatus:
        usage = execution.usage
        if execution.state is State.RUNNING and execution.process is not None:
            live = execution.process.usage()
            wall = time.time() - (execution.started_at or time.time())
            usage = Usage(
                cpu_seconds=live.cpu_seconds, memory_peak=live.memory_peak, wall_seconds=wall
            )
        return ExecutionStatus(
            id=execution.spec.id,
            executor=self.name,
            state=execution.state,
            exit_code=execution.exit_code,
            error=execution.error,
            usage=usage,
            started_at=execution.started_at,
            finished_at=execution.finished_at,
            output_bytes=execution.output_bytes,
            logs_dropped=execution.dropped,
        )

    async def health(self, execution_id: str) -> Health:
        execution = self._get(execution_id)
        if execution.state is State.RUNNING and execution.spec.health_check:
            # The guest runs the check as the job starts and reports each change; the first
            # report comes a boot after start.
            await execution.health_seen.wait()
        if execution.state is not State.RUNNING:
            return Health(healthy=False, detail=f"the execution has {execution.state.value}")
        if not execution.spec.health_check:
            return Health(healthy=True, detail="running (no health check)")
        report = execution.health
        assert report is not None
        if report.status == 0:
            return Health(healthy=True, detail="the health check passed")
        return Health(healthy=False, detail=f"the health check exited {report.status}")

    async def cleanup(self, execution_id: str) -> None:
        execution = self._get(execution_id)
        next_state(execution.state, Input.CLEANED)  # a running one must be cancelled first
        if execution.process is not None:
            execution.process.kill()
        if execution.directory is not None:
            await asyncio.to_thread(shutil.rmtree, execution.directory, True)
        execution.move(Input.CLEANED)
        execution.end()
        self._record(ExecutionCleaned(execution=execution_id, executor=self.name))

    async def recover(self) -> list[str]:
        """VMs die with the node (their console pipe was the node's), so a VM directory left by
        an earlier node is cleaned: its VMM killed if it still runs, its files removed."""
        found: list[str] = []
        if not self._vms_dir().is_dir():
            return found
        for directory in sorted(self._vms_dir().iterdir()):
            if directory.name in self._executions:
                continue
            try:
                pid = json.loads((directory / "vm.json").read_text()).get("pid")
            except (OSError, ValueError):
                pid = None
            if isinstance(pid, int) and _runs_in(pid, directory):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            self._record(
                ExecutionRecovered(execution=directory.name, executor=self.name, action="cleaned")
            )
            found.append(directory.name)
        return found

    async def close(self) -> None:
        """Stop every running VM (cancelled) and remove every execution's files."""
        running = [e for e in self._executions.values() if e.state is State.RUNNING]
        for execution in running:
            self._stop(execution, Input.CANCELLED)
        for execution in running:
            if execution.supervisor is not None:
                await asyncio.gather(execution.supervisor, return_exceptions=True)
        for execution in self._executions.values():
            leaves_files = execution.state in FINISHED or execution.state is State.PREPARED
            if leaves_files and execution.directory is not None:
                await asyncio.to_thread(shutil.rmtree, execution.directory, True)


def _argv(spec: ExecutionSpec, config: ImageConfig) -> tuple[str, ...]:
    """Docker's rule: the spec's entrypoint replaces the image's (and drops the image's cmd)."""
    if spec.entrypoint is not None:
        argv = spec.entrypoint + spec.command
    else:
        argv = config.entrypoint + (spec.command or config.cmd)
    if not argv:
        raise InvalidSpec(
            f"command: the image {spec.image!r} names no entrypoint or command; give a command"
        )
    return argv


def _device(index: int) -> str:
    return f"/dev/vd{chr(ord('a') + index)}"


def _write_json(path: Path, value: dict[str, object]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value))
    partial.replace(path)


def _runs_in(pid: int, directory: Path) -> bool:
    """Whether `pid` is a live VMM working in `directory` (not a recycled pid)."""
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(directory)
    except OSError:
        return False
