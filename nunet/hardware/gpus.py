"""Every GPU of the machine, vendor by vendor, each through the best source installed.

NVIDIA: NVML, else nvidia-smi. AMD: amd-smi, else rocm-smi, else sysfs. Intel: xpu-smi, else
sysfs. A vendor whose sources all fail contributes no device and one note saying why; nothing
here raises for a missing tool.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from nunet.capability.model import Gpu
from nunet.hardware.amd import read_amd
from nunet.hardware.errors import GpuDetectionError
from nunet.hardware.intel import read_xpu_smi
from nunet.hardware.nvidia_smi import read_nvidia_smi
from nunet.hardware.nvml import NVML_LIBRARY, read_nvml
from nunet.hardware.pci import short
from nunet.hardware.pci_display import DisplayDevice, lspci_name, scan_display_devices

Found = tuple[tuple[Gpu, ...], tuple[str, ...]]


async def detect_gpus(*, sys: Path = Path("/sys"), nvml_library: str = NVML_LIBRARY) -> Found:
    """(devices, notes). Indexes are each vendor tool's own (NVML order for NVIDIA)."""
    display = await asyncio.to_thread(scan_display_devices, sys)
    found = await asyncio.gather(_nvidia(nvml_library, display), _amd(display), _intel(display))
    return (
        tuple(gpu for gpus, _ in found for gpu in gpus),
        tuple(note for _, notes in found for note in notes),
    )


async def _nvidia(library: str, display: tuple[DisplayDevice, ...]) -> Found:
    try:
        return await asyncio.to_thread(read_nvml, library), ()
    except GpuDetectionError as exc:
        nvml_problem = str(exc)
    try:
        gpus = await read_nvidia_smi()
    except GpuDetectionError as exc:
        note = f"no NVIDIA GPU detected: NVML: {nvml_problem}; nvidia-smi: {exc}"
        seen = [d.pci_address for d in display if d.vendor == "nvidia"]
        if seen:
            note += f"; yet PCI lists NVIDIA display devices at {', '.join(seen)}: install the NVIDIA driver"
        return (), (note,)
    return gpus, (f"NVML unavailable ({nvml_problem}); NVIDIA GPUs read from nvidia-smi",)


async def _amd(display: tuple[DisplayDevice, ...]) -> Found:
    try:
        gpus, _tool = await read_amd()
        return gpus, ()
    except GpuDetectionError as exc:
        problem = str(exc)
    return await _from_sysfs("amd", "AMD", problem, display)


async def _intel(display: tuple[DisplayDevice, ...]) -> Found:
    try:
        return await read_xpu_smi()
    except GpuDetectionError as exc:
        problem = f"xpu-smi: {exc}"
    return await _from_sysfs("intel", "Intel", problem, display)


async def _from_sysfs(
    vendor: str, name: str, problem: str, display: tuple[DisplayDevice, ...]
) -> Found:
    devices = [d for d in display if d.vendor == vendor]
    if not devices:
        return (), (f"no {name} GPU detected: {problem}; PCI lists no {name} display device",)
    gpus = []
    for index, device in enumerate(devices):
        model = await lspci_name(device.pci_address) or f"{name} GPU [{device.device_id:#06x}]"
        gpus.append(
            Gpu(
                index=index,
                vendor=vendor,
                model=short(model),
                vram=device.vram,
                pci_address=device.pci_address,
            )
        )
    unknown = [g.pci_address for g in gpus if g.vram == 0]
    notes = [f"{name} GPUs read from sysfs ({problem})"]
    if unknown:
        notes.append(f"{name} GPU VRAM unknown (shared or not exposed) at {', '.join(unknown)}")
    return tuple(gpus), tuple(notes)
