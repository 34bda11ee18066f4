"""QEMU's `microvm` machine: the command line for one execution (pure), and whether KVM works here
(a bounded probe boot: on these machines /dev/kvm exists but a nested guest hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import msgspec

from nunet.childproc import die_with_parent
from nunet.executor.errors import ExecutorUnavailable
from nunet.executor.microvm.cpio import CpioWriter

QEMU = "qemu-system-x86_64"
Accel = Literal["kvm", "tcg"]
# quiet + loglevel=0: only the guest init's lines reach the console; panic=-1 + -no-reboot: a
# dead init ends the VMM at once instead of hanging. (Seen here: "mitigations=off audit=0
# nokaslr" made the TCG boot hang, so nothing clever.)
KERNEL_ARGS = "console=ttyS0 quiet loglevel=0 panic=-1 random.trust_cpu=on"
# Under TCG on a loaded host the kernel's TSC calibration fails ("could not calculate TSC khz")
# and the boot hangs before init: six parallel boots on 2 cores all hung without these, none
# with them. Given the frequency and loops-per-jiffy, it calibrates nothing. Never under KVM.
TCG_KERNEL_ARGS = "tsc_early_khz=2000000 lpj=8000000"


class Drive(msgspec.Struct, frozen=True, kw_only=True):
    serial: str
    path: str
    read_only: bool


class MachinePlan(msgspec.Struct, frozen=True, kw_only=True):
    """One VM: kernel, initramfs, drives (in attachment order), size, accelerator."""

    kernel: str
    initrd: str
    drives: tuple[Drive, ...]
    memory_mib: int
    vcpus: int
    accel: Accel
    kernel_args: str = KERNEL_ARGS

    def append(self) -> str:
        return f"{self.kernel_args} {TCG_KERNEL_ARGS}" if self.accel == "tcg" else self.kernel_args


def find_qemu() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise ExecutorUnavailable(
            f"the QEMU microVM backend needs {QEMU} on PATH (Debian package qemu-system-x86)"
        )
    return path


def qemu_argv(binary: str, plan: MachinePlan) -> list[str]:
    """The qemu-system-x86_64 command line: serial console on stdout, nothing else attached."""
    argv = [
        binary,
        "-M", "microvm,isa-serial=on,acpi=on,rtc=on",
        "-accel", plan.accel,
        "-m", f"{plan.memory_mib}M",
        "-smp", str(plan.vcpus),
        "-nodefaults", "-no-user-config", "-nographic",
        "-serial", "stdio", "-monitor", "none",
        "-no-reboot",
        "-kernel", plan.kernel,
        "-initrd", plan.initrd,
        "-append", plan.append(),
    ]  # fmt: skip
    for index, drive in enumerate(plan.drives):
        readonly = ",readonly=on" if drive.read_only else ""
        argv += [
            "-drive", f"id=d{index},file={drive.path},format=raw,if=none,cache=unsafe{readonly}",
            "-device", f"virtio-blk-device,drive=d{index},serial={drive.serial}",
        ]  # fmt: skip
    return argv


def _kvm_opens(device: Path) -> bool:
    try:
        with open(device, "rb+", buffering=0):
            return True
    except OSError:
        return False


def _write_probe_initrd(path: Path, busybox: Path) -> None:
    with open(path, "wb") as out:
        writer = CpioWriter(out)
        writer.directory("bin")
        writer.file("bin/busybox", busybox.read_bytes(), mode=0o755)
        init = b"#!/bin/busybox sh\necho nunet-kvm-ok\n/bin/busybox reboot -f\n"
        writer.file("init", init, mode=0o755)
        writer.close()


async def kvm_works(
    kernel: Path, busybox: Path, *, timeout: float = 4.0, device: Path = Path("/dev/kvm")
) -> bool:
    """Whether a KVM guest boots here: a tiny initramfs that only reboots, given `timeout`
    seconds (a working KVM needs well under one); on a hang or an error, False."""
    binary = shutil.which(QEMU)
    if binary is None or not _kvm_opens(device):
        return False
    with tempfile.TemporaryDirectory(prefix="nunet-kvm-probe-") as scratch:
        initrd = Path(scratch) / "probe.cpio"
        await asyncio.to_thread(_write_probe_initrd, initrd, busybox)
        plan = MachinePlan(
            kernel=str(kernel), initrd=str(initrd), drives=(), memory_mib=96, vcpus=1, accel="kvm"
        )
        process = await asyncio.create_subprocess_exec(
            *qemu_argv(binary, plan),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            async with asyncio.timeout(timeout):
                said, _ = await process.communicate()
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            return False
    return process.returncode == 0 and b"nunet-kvm-ok" in said


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, 9)


def vcpus_for(cores: float) -> int:
    """Whole vCPUs for a CPU limit (the guest cgroup's cpu.max takes the fraction)."""
    whole = int(cores)
    return max(1, whole if whole == cores else whole + 1)


def memory_mib_for(limit: int, initrd_bytes: int) -> int:
    """Guest RAM: the job's limit plus the kernel's own and the unpacked initramfs (twice: the
    archive and its files)."""
    total = limit + (80 << 20) + 2 * initrd_bytes
    return -(-total // (1 << 20))
