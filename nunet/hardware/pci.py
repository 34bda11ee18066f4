"""PCI addresses in one spelling: domain:bus:device.function, four hex digits of domain, lower case."""

from __future__ import annotations

import re

from nunet.hardware.errors import ToolOutputInvalid

# NVML and nvidia-smi write an 8-digit domain (00000000:19:00.0), rocm-smi upper case
# (0000:C4:00.0), lspci may omit the domain (00:02.0).
_ADDRESS = re.compile(
    r"(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{2}):(?P<device>[0-9a-fA-F]{2})\.(?P<function>[0-7])"
)
_UNKNOWN = {"", "n/a", "[n/a]", "unknown", "none"}


def normalize_pci_address(text: str) -> str:
    """`0000:19:00.0` for any spelling of that address; "" for a tool's "N/A"."""
    value = text.strip()
    if value.lower() in _UNKNOWN:
        return ""
    match = _ADDRESS.fullmatch(value)
    if match is None:
        raise ToolOutputInvalid(
            f"{value!r} is not a PCI address (expected domain:bus:device.function, e.g. 0000:19:00.0)"
        )
    domain = int(match["domain"] or "0", 16)
    if domain > 0xFFFF:
        raise ToolOutputInvalid(f"{value!r}: PCI domain {domain:#x} is larger than 0xffff")
    return f"{domain:04x}:{match['bus'].lower()}:{match['device'].lower()}.{match['function']}"


def short(text: str, limit: int = 256) -> str:
    """A tool's string, trimmed to what the capability model stores (`Short`)."""
    return text.strip()[:limit]
