"""The machine's memory: total and available now, from /proc/meminfo."""

from __future__ import annotations

from pathlib import Path

from nunet.hardware.errors import HardwareDetectionError


def parse_meminfo(text: str) -> tuple[int, int]:
    """(total, available) in bytes. Kernels before 3.14 have no MemAvailable: free + caches."""
    kib: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and fields and fields[0].isdigit():
            unit = fields[1].lower() if len(fields) > 1 else ""
            kib[key.strip()] = int(fields[0]) if unit == "kb" else int(fields[0]) // 1024
    if "MemTotal" not in kib:
        raise HardwareDetectionError("/proc/meminfo has no MemTotal line")
    available = kib.get("MemAvailable")
    if available is None:
        available = kib.get("MemFree", 0) + kib.get("Buffers", 0) + kib.get("Cached", 0)
    return kib["MemTotal"] * 1024, min(available, kib["MemTotal"]) * 1024


def detect_memory(*, proc: Path = Path("/proc")) -> tuple[int, int]:
    """(total, available) bytes of RAM. Blocking (a file read)."""
    try:
        text = (proc / "meminfo").read_text()
    except OSError as exc:
        raise HardwareDetectionError(f"cannot read {proc / 'meminfo'}: {exc.strerror}") from None
    return parse_meminfo(text)
