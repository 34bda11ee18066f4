"""Machines and shares built by hand, so the pure tests know exactly what the machine has."""

from __future__ import annotations

from nunet.capability.model import CpuInfo, Gpu
from nunet.hardware.machine import Machine
from nunet.onboarding.share import ShareRequest

GiB = 1 << 30
MiB = 1 << 20


def gpu(index: int, *, vram: int = 16 * GiB, model: str = "A100", vendor: str = "nvidia") -> Gpu:
    return Gpu(
        index=index,
        vendor=vendor,
        model=model,
        vram=vram,
        uuid=f"GPU-{index:04d}",
        compute_capability="8.0",
    )


def machine(
    *,
    threads: int = 8,
    ram: int = 16 * GiB,
    ram_available: int = 12 * GiB,
    disk: int = 500 * GiB,
    disk_free: int = 200 * GiB,
    gpus: tuple[Gpu, ...] = (gpu(0), gpu(1, vram=24 * GiB, model="RTX 4090")),
) -> Machine:
    return Machine(
        cpu=CpuInfo(
            vendor="GenuineIntel",
            model="Xeon",
            architecture="x86_64",
            cores=threads // 2,
            threads=threads,
            clock_mhz=3000,
        ),
        ram=ram,
        ram_available=ram_available,
        disk=disk,
        disk_free=disk_free,
        gpus=gpus,
        kernel="6.1.0",
    )


def share(
    cpu: float = 4, ram: int = 8 * GiB, disk: int = 100 * GiB, gpus: tuple[int, ...] = (0, 1)
) -> ShareRequest:
    return ShareRequest(cpu=cpu, ram=ram, disk=disk, gpus=gpus)
