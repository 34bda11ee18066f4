"""The microVM executor: an OCI image booted as a microVM (QEMU `microvm`, or Firecracker) behind
the one Executor interface. See README.md for how an image becomes a VM and what is enforced.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.executor.microvm.executor import Backend, MicroVMExecutor
from nunet.executor.microvm.firecracker import (
    BootSource,
    FirecrackerClient,
    FirecrackerDrive,
    FirecrackerVM,
    InstanceInfo,
    MachineConfig,
    NetworkInterface,
    compose_vm,
    extract_vmlinux,
    find_firecracker,
)
from nunet.executor.microvm.kernel import DEFAULT_KERNEL_DIR, ensure_kernel, find_kernel
from nunet.executor.microvm.qemu import kvm_works

__all__ = [
    "DEFAULT_KERNEL_DIR",
    "Backend",
    "BootSource",
    "FirecrackerClient",
    "FirecrackerDrive",
    "FirecrackerVM",
    "InstanceInfo",
    "MachineConfig",
    "MicroVMExecutor",
    "NetworkInterface",
    "compose_vm",
    "ensure_kernel",
    "extract_vmlinux",
    "find_firecracker",
    "find_kernel",
    "kvm_works",
]
