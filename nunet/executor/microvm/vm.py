"""A running VMM process (qemu or firecracker): its serial console as a byte stream, its end with
the resource usage the kernel accounted to it (wait4), and a kill that leaves nothing behind.

The process runs in its own session (process group) and dies with the node (PR_SET_PDEATHSIG).
Usage is the VMM's: CPU seconds of the whole process (vCPU threads and emulation alike) and its
peak resident set (guest RAM it touched plus its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec

from nunet.childproc import die_with_parent

_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessUsage(msgspec.Struct, frozen=True):
    cpu_seconds: float
    memory_peak: int  # bytes


class Ended(msgspec.Struct, frozen=True):
    returncode: int  # negative: killed by that signal
    usage: ProcessUsage


def live_usage(pid: int) -> ProcessUsage:
    """CPU and peak RSS of a live process from /proc; zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ProcessUsage(0.0, 0)
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    peak = 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return ProcessUsage(cpu, peak)


class VMProcess:
    """One spawned VMM. `console()` yields stdout bytes; `ended` resolves when it has exited."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, stderr: Path) -> None:
        loop = asyncio.get_running_loop()
        with open(stderr, "wb") as errors:
            self._popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
        self.pid = self._popen.pid
        self.ended: asyncio.Future[Ended] = loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)
        assert self._popen.stdout is not None
        self._stdout = self._popen.stdout
        os.set_blocking(self._stdout.fileno(), False)

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status, rusage = self.pid, 0, None
        if pid == 0:
            return
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        code = os.waitstatus_to_exitcode(status)
        self._popen.returncode = code  # reaped here, not by Popen
        usage = ProcessUsage(0.0, 0) if rusage is None else _usage(rusage)
        if not self.ended.done():
            self.ended.set_result(Ended(code, usage))

    async def console(self) -> AsyncIterator[bytes]:
        """The VMM's stdout until it closes (the VMM ended)."""
        loop = asyncio.get_running_loop()
        fd = self._stdout.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    await _readable(loop, fd)
                    continue
                if not chunk:
                    return
                yield chunk
        finally:
            self._stdout.close()

    def usage(self) -> ProcessUsage:
        if self.ended.done():
            return self.ended.result().usage
        return live_usage(self.pid)

    def kill(self) -> None:
        """SIGKILL to the VMM's whole process group (idempotent)."""
        if self.ended.done():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _usage(rusage: resource.struct_rusage) -> ProcessUsage:
    return ProcessUsage(rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss * 1024)
