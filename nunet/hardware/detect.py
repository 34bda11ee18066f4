"""The whole machine, detected in one call: what onboarding validates a reservation against."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

from nunet.capability.model import CpuInfo
from nunet.hardware.cpu import detect_cpu
from nunet.hardware.disk import detect_disk
from nunet.hardware.errors import HardwareDetectionError
from nunet.hardware.gpus import detect_gpus
from nunet.hardware.machine import Machine
from nunet.hardware.memory import detect_memory
from nunet.hardware.pci import short


async def detect_machine(disk_path: Path) -> Machine:
    """Detect CPU, RAM, the disk holding `disk_path`, and GPUs; blocking reads run in threads.

    What cannot be detected is left empty or zero and explained in `Machine.notes`; the only
    error is HardwareDetectionError for a `disk_path` that does not exist or cannot be read.
    """
    cpu, memory, disk, (gpus, gpu_notes) = await asyncio.gather(
        asyncio.to_thread(detect_cpu),
        asyncio.to_thread(_memory_or_note),
        asyncio.to_thread(detect_disk, disk_path),
        detect_gpus(),
    )
    (ram, ram_available), memory_notes = memory
    return Machine(
        cpu=cpu,
        ram=ram,
        ram_available=ram_available,
        disk=disk[0],
        disk_free=disk[1],
        gpus=gpus,
        os=short(platform.system().lower()),
        kernel=short(platform.release()),
        notes=(*_cpu_notes(cpu), *memory_notes, *gpu_notes),
    )


def _memory_or_note() -> tuple[tuple[int, int], tuple[str, ...]]:
    try:
        return detect_memory(), ()
    except HardwareDetectionError as exc:
        return (0, 0), (f"RAM unknown: {exc}",)


def _cpu_notes(cpu: CpuInfo) -> tuple[str, ...]:
    notes = []
    if not cpu.model:
        notes.append("CPU model unknown: /proc/cpuinfo names none")
    if not cpu.clock_mhz:
        notes.append("CPU clock unknown: no cpufreq in /sys and no 'cpu MHz' in /proc/cpuinfo")
    if not cpu.threads:
        notes.append(
            "CPU count unknown: /proc/cpuinfo lists no processor and os.cpu_count() is None"
        )
    return tuple(notes)
