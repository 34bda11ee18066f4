"""Display controllers on the PCI bus, from sysfs: the fallback when no vendor tool is installed.

/sys/bus/pci/devices/<address>/ holds `class`, `vendor`, `device` (hex) for every device, with or
without a driver (the directory /sys/class/drm/card*/device points to, for those with one); the
amdgpu driver adds `mem_info_vram_total`. Names come from `lspci -mm` when it is installed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from nunet.hardware.errors import ToolFailed, ToolMissing
from nunet.hardware.pci import normalize_pci_address
from nunet.hardware.tool import run_tool

PCI_VENDORS = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel"}
_DISPLAY_CLASS = 0x03  # PCI base class "display controller": VGA, XGA, 3D, other
_ADDRESS = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")


@dataclass(frozen=True, slots=True)
class DisplayDevice:
    pci_address: str
    vendor: str  # one of GPU_VENDORS
    device_id: int
    vram: int  # bytes; 0 where sysfs does not say (integrated GPUs share the RAM)


def scan_display_devices(sys: Path = Path("/sys")) -> tuple[DisplayDevice, ...]:
    """Every PCI display controller, in address order. Blocking (file reads)."""
    root = sys / "bus" / "pci" / "devices"
    try:
        entries = sorted(p for p in root.iterdir() if _ADDRESS.fullmatch(p.name))
    except OSError:
        return ()
    devices = []
    for entry in entries:
        pci_class, vendor, device = (
            _hex_file(entry / name) for name in ("class", "vendor", "device")
        )
        if pci_class is None or vendor is None or pci_class >> 16 != _DISPLAY_CLASS:
            continue
        devices.append(
            DisplayDevice(
                pci_address=normalize_pci_address(entry.name),
                vendor=PCI_VENDORS.get(vendor, "other"),
                device_id=device or 0,
                vram=_int_file(entry / "mem_info_vram_total"),
            )
        )
    return tuple(devices)


def parse_lspci_name(text: str) -> str:
    """The device name from one line of `lspci -mm -s ADDRESS`:
    `00:02.0 "VGA compatible controller" "Intel Corporation" "Alder Lake-P GT2 [Iris Xe Graphics]" ...`
    """
    for line in text.splitlines():
        try:
            fields = shlex.split(line)
        except ValueError:
            continue
        if len(fields) >= 4:
            return fields[3]
    return ""


async def lspci_name(pci_address: str) -> str:
    """The device's name from lspci; "" when lspci is missing or says nothing."""
    try:
        return parse_lspci_name(await run_tool(["lspci", "-mm", "-s", pci_address]))
    except (ToolMissing, ToolFailed):
        return ""


def _hex_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def _int_file(path: Path) -> int:
    try:
        return max(0, int(path.read_text().strip()))
    except (OSError, ValueError):
        return 0
