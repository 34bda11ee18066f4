"""What the microVM tests share: the guest kernel (fetched once into the kernel cache), a backend
for the contract, and a look at what an execution left on the machine (files, VMM processes)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nunet.eventlog import Event
from nunet.executor import Executor
from nunet.executor.microvm import DEFAULT_KERNEL_DIR, MicroVMExecutor, ensure_kernel
from nunet.executor.microvm.executor import BOOT_TIMEOUT_SECONDS
from tests.executor.contract import ExecutorBackend


def kernel_dir() -> Path:
    """The kernel cache: NUNET_KERNEL_DIR, else the executor's default."""
    return Path(os.environ.get("NUNET_KERNEL_DIR", str(DEFAULT_KERNEL_DIR)))


def guest_kernel() -> Path:
    """The cached guest kernel, fetched with apt-get on first use (bootstrap fetches it too)."""
    return ensure_kernel(kernel_dir())


def vmm_processes(marker: str) -> list[str]:
    """Live processes whose command line or working directory mentions `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or marker in cwd:
            found.append(f"pid {entry.name}: {cmdline.strip()}")
    return found


class MicroVMBackend(ExecutorBackend):
    """QEMU microvm under TCG (KVM hangs nested here), executions under `state_dir`."""

    def __init__(self, image: str, kernel: Path, state_dir: Path) -> None:
        self.image = image
        self.kernel = kernel
        self.state_dir = state_dir

    def executor(
        self,
        record: Callable[[Event], object],
        *,
        allow_privileged: bool = False,
        boot_timeout_seconds: float = BOOT_TIMEOUT_SECONDS,
    ) -> MicroVMExecutor:
        return MicroVMExecutor(
            record,
            node_id="did:test:microvm",
            kernel=self.kernel,
            state_dir=self.state_dir,
            accel="tcg",
            allow_privileged=allow_privileged,
            boot_timeout_seconds=boot_timeout_seconds,
        )

    async def open(
        self, record: Callable[[Event], None], *, allow_privileged: bool = False
    ) -> Executor:
        return self.executor(record, allow_privileged=allow_privileged)

    async def leftovers(self, execution_id: str) -> list[str]:
        directory = self.state_dir / "vms" / execution_id
        files = [str(directory)] if directory.exists() else []
        return files + vmm_processes(str(directory))
