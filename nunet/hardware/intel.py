"""Intel GPUs through xpu-smi (Intel's data-center GPU tool); parsers are pure.

`xpu-smi discovery -j` lists devices without memory sizes; `xpu-smi discovery -d ID -j`
gives one device's details, `memory_physical_size_byte` among them (a string of digits).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from nunet.capability.model import Gpu
from nunet.hardware.errors import GpuDetectionError, ToolOutputInvalid
from nunet.hardware.pci import normalize_pci_address, short
from nunet.hardware.tool import run_tool

DISCOVERY_ARGV = ("xpu-smi", "discovery", "-j")


def detail_argv(device_id: int) -> tuple[str, ...]:
    return ("xpu-smi", "discovery", "-d", str(device_id), "-j")


def parse_xpu_discovery(text: str) -> tuple[Gpu, ...]:
    """`xpu-smi discovery -j`: {"device_list": [{device_id, device_name, pci_bdf_address, uuid}]}.

    VRAM is 0 here; `parse_xpu_memory` reads it from each device's details.
    """
    data = _json(text)
    devices = data.get("device_list") if isinstance(data, dict) else None
    if not isinstance(devices, list):
        raise ToolOutputInvalid("xpu-smi discovery JSON has no 'device_list' list")
    gpus = []
    for position, device in enumerate(devices):
        if not isinstance(device, dict):
            raise ToolOutputInvalid(f"xpu-smi device {position} is not a JSON object")
        if str(device.get("device_type", "GPU")).upper() != "GPU":
            continue
        index = device.get("device_id", position)
        if not isinstance(index, int) or index < 0:
            raise ToolOutputInvalid(
                f"xpu-smi device {position}: device_id {index!r} is not an index"
            )
        gpus.append(
            Gpu(
                index=index,
                vendor="intel",
                model=short(str(device.get("device_name", ""))),
                vram=_size(device.get("memory_physical_size_byte")),
                pci_address=normalize_pci_address(str(device.get("pci_bdf_address", ""))),
                uuid=short(str(device.get("uuid", ""))),
            )
        )
    return tuple(gpus)


def parse_xpu_memory(text: str) -> int:
    """`memory_physical_size_byte` from `xpu-smi discovery -d ID -j`, in bytes."""
    data = _json(text)
    if not isinstance(data, dict) or "memory_physical_size_byte" not in data:
        raise ToolOutputInvalid("xpu-smi device details have no memory_physical_size_byte")
    return _size(data["memory_physical_size_byte"])


async def read_xpu_smi() -> tuple[tuple[Gpu, ...], tuple[str, ...]]:
    """The devices xpu-smi lists, with VRAM from each one's details, and notes."""
    gpus = parse_xpu_discovery(await run_tool(DISCOVERY_ARGV))
    notes: list[str] = []
    complete = []
    for gpu in gpus:
        if gpu.vram == 0:
            try:
                memory = parse_xpu_memory(await run_tool(detail_argv(gpu.index)))
                gpu = msgspec.structs.replace(gpu, vram=memory)
            except GpuDetectionError as exc:
                notes.append(f"Intel GPU {gpu.index}: VRAM unknown ({exc})")
        complete.append(gpu)
    return tuple(complete), tuple(notes)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolOutputInvalid(f"xpu-smi printed invalid JSON: {exc}") from None


def _size(value: Any) -> int:
    if value is None or str(value).strip().lower() in ("", "n/a", "unknown"):
        return 0
    text = str(value).strip()
    if not text.isdigit():
        raise ToolOutputInvalid(f"xpu-smi memory size {text!r} is not a number of bytes")
    return int(text)
