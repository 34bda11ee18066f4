"""AMD GPUs through amd-smi (ROCm 6 and later) or, failing that, rocm-smi; parsers are pure."""

from __future__ import annotations

import json
import re
from typing import Any

from nunet.capability.model import Gpu
from nunet.hardware.errors import ToolMissing, ToolOutputInvalid
from nunet.hardware.pci import normalize_pci_address, short
from nunet.hardware.tool import run_tool

AMD_SMI_ARGV = ("amd-smi", "static", "--asic", "--vram", "--bus", "--json")
ROCM_SMI_ARGV = ("rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showbus", "--json")
# amd-smi writes binary sizes with decimal-looking units: an MI300X's 192 GiB is "196592 MB".
_UNITS = {
    "B": 1,
    "KB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}
_CARD = re.compile(r"card(\d+)")


def parse_amd_smi(text: str) -> tuple[Gpu, ...]:
    """`amd-smi static --asic --vram --bus --json`: a list of devices, or {"gpu_data": [...]}
    (the wrapping newer releases use)."""
    data = _json(text, "amd-smi")
    devices = data.get("gpu_data") if isinstance(data, dict) else data
    if not isinstance(devices, list):
        raise ToolOutputInvalid("amd-smi JSON is neither a device list nor {'gpu_data': [...]}")
    gpus = []
    for position, device in enumerate(devices):
        if not isinstance(device, dict):
            raise ToolOutputInvalid(f"amd-smi device {position} is not a JSON object")
        asic, vram, bus = (_object(device, key) for key in ("asic", "vram", "bus"))
        index = device.get("gpu", position)
        if not isinstance(index, int) or index < 0:
            raise ToolOutputInvalid(f"amd-smi device {position}: 'gpu' {index!r} is not an index")
        gpus.append(
            Gpu(
                index=index,
                vendor="amd",
                model=short(_text(asic.get("market_name"))),
                vram=_amd_smi_size(vram.get("size"), position),
                pci_address=normalize_pci_address(_text(bus.get("bdf"))),
                uuid=short(_text(asic.get("asic_serial"))),
            )
        )
    return tuple(gpus)


def parse_rocm_smi(text: str) -> tuple[Gpu, ...]:
    """`rocm-smi --showproductname --showmeminfo vram --showbus --json`: {"card0": {...}, ...}."""
    data = _json(text, "rocm-smi")
    if not isinstance(data, dict):
        raise ToolOutputInvalid("rocm-smi JSON is not an object keyed by card")
    gpus = []
    for key, card in data.items():
        match = _CARD.fullmatch(key)
        if match is None:  # "system" and other non-device sections
            continue
        if not isinstance(card, dict):
            raise ToolOutputInvalid(f"rocm-smi {key} is not a JSON object")
        fields = {name.lower(): _text(value) for name, value in card.items()}
        model = next(
            (
                fields[name]
                for name in ("card series", "device name", "card model")
                if fields.get(name, "n/a").lower() != "n/a"
            ),
            "",
        )
        gpus.append(
            Gpu(
                index=int(match[1]),
                vendor="amd",
                model=short(model),
                vram=_bytes(fields.get("vram total memory (b)", "0"), f"rocm-smi {key}"),
                pci_address=normalize_pci_address(fields.get("pci bus", "")),
                uuid=short(_unknown_empty(fields.get("unique id", ""))),
            )
        )
    return tuple(sorted(gpus, key=lambda gpu: gpu.index))


async def read_amd() -> tuple[tuple[Gpu, ...], str]:
    """The AMD GPUs and the tool that listed them; ToolMissing if neither tool is installed."""
    try:
        return parse_amd_smi(await run_tool(AMD_SMI_ARGV)), "amd-smi"
    except ToolMissing:
        pass
    try:
        return parse_rocm_smi(await run_tool(ROCM_SMI_ARGV)), "rocm-smi"
    except ToolMissing:
        raise ToolMissing("neither amd-smi nor rocm-smi is on PATH") from None


def _json(text: str, tool: str) -> Any:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:  # rocm-smi may print warnings before its JSON
        raise ToolOutputInvalid(f"{tool} printed no JSON: {text.strip()[:200]!r}")
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise ToolOutputInvalid(f"{tool} printed invalid JSON: {exc}") from None


def _object(device: dict[str, Any], key: str) -> dict[str, Any]:
    value = device.get(key, {})
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _unknown_empty(text: str) -> str:
    return "" if text.lower() in ("n/a", "none") else text


def _amd_smi_size(size: Any, position: int) -> int:
    if not isinstance(size, dict) or _text(size.get("value")).lower() in ("", "n/a"):
        return 0
    unit = _text(size.get("unit")).upper()
    if unit not in _UNITS:
        raise ToolOutputInvalid(f"amd-smi device {position}: unknown VRAM unit {unit!r}")
    try:
        value = float(size["value"])
    except (TypeError, ValueError):
        raise ToolOutputInvalid(
            f"amd-smi device {position}: VRAM size {size['value']!r} is not a number"
        ) from None
    return max(0, round(value * _UNITS[unit]))


def _bytes(text: str, where: str) -> int:
    if text.lower() in ("", "n/a"):
        return 0
    if not text.isdigit():
        raise ToolOutputInvalid(f"{where}: VRAM total {text!r} is not a number of bytes")
    return int(text)
