"""The microVM executor against a bare QEMU boot of the same kernel and initramfs running the same
command: what the executor adds (image lookup, drives, console parsing, lifecycle, events) on top
of booting a VM. Both under TCG (`-accel tcg`), one at a time, best of a few runs.

    python bench/executor_microvm.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report
from nunet.executor import ExecutionSpec
from nunet.executor.microvm import MicroVMExecutor, ensure_kernel
from nunet.executor.microvm.drives import write_job_drive
from nunet.executor.microvm.guest import JOB_DRIVE_SERIAL
from nunet.executor.microvm.qemu import Drive, MachinePlan, find_qemu, qemu_argv
from tests.executor.images import ensure_busybox_image

RUNS = 4
COMMAND = ("sh", "-c", "echo hello from the guest")


async def through_executor(executor: MicroVMExecutor, image: str, run: int) -> float:
    spec = ExecutionSpec(id=f"bench-{run}", image=image, command=COMMAND)
    start = time.perf_counter()
    await executor.prepare(spec)
    await executor.start(spec.id)
    status = await executor.wait(spec.id)
    seconds = time.perf_counter() - start
    assert status.exit_code == 0, status
    await executor.cleanup(spec.id)
    return seconds


def bare_qemu(kernel: Path, initrd: Path, job_drive: Path, memory_mib: int) -> float:
    """The peer: qemu-system-x86_64 -M microvm -accel tcg with the same kernel, initramfs, job
    drive and memory; the guest runs the same command; the console read to its end."""
    plan = MachinePlan(
        kernel=str(kernel),
        initrd=str(initrd),
        drives=(Drive(serial=JOB_DRIVE_SERIAL, path=str(job_drive), read_only=True),),
        memory_mib=memory_mib,
        vcpus=1,
        accel="tcg",
    )
    start = time.perf_counter()
    done = subprocess.run(qemu_argv(find_qemu(), plan), capture_output=True, check=False)
    seconds = time.perf_counter() - start
    assert b"hello from the guest" in done.stdout, done.stdout[-500:]
    return seconds


async def main() -> None:
    kernel = ensure_kernel()
    image = ensure_busybox_image()
    with tempfile.TemporaryDirectory(prefix="nunet-bench-microvm-") as scratch:
        state = Path(scratch)
        executor = MicroVMExecutor(
            lambda event: None, node_id="bench", kernel=kernel, state_dir=state, accel="tcg"
        )
        await through_executor(executor, image, -1)  # converts and caches the image once
        ours = min([await through_executor(executor, image, run) for run in range(RUNS)])
        initrd = next((state / "images").glob("*.cpio"))
        # The same job script the executor would ship, minus the executor around the VM.
        script = (
            "B=/.nunet/busybox\n"
            f"$B env -i PATH=/bin {' '.join(COMMAND[:2])} '{COMMAND[2]}'\n"
            "$B reboot -f\n"
        )
        job_drive = state / "bare-job.tar"
        write_job_drive(job_drive, {"job.sh": script.encode()})
        memory = 80 + 256 + 2 * (initrd.stat().st_size >> 20) + 1
        peer = min(bare_qemu(kernel, initrd, job_drive, memory) for _ in range(RUNS))
        await executor.close()
    report(
        "executor_microvm",
        ours,
        "s per job",
        "bare qemu-system-x86_64 -M microvm -accel tcg",
        peer,
        higher_is_better=False,
    )


if __name__ == "__main__":
    asyncio.run(main())
