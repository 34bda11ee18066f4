"""NVIDIA GPUs through nvidia-smi's CSV query, for when NVML cannot be loaded directly."""

from __future__ import annotations

import csv

from nunet.capability.model import Gpu
from nunet.hardware.errors import ToolFailed, ToolOutputInvalid
from nunet.hardware.pci import normalize_pci_address, short
from nunet.hardware.tool import run_tool

MIB = 1024 * 1024
FIELDS = ("index", "name", "memory.total", "pci.bus_id", "uuid", "compute_cap")
# Drivers before 510 do not know compute_cap; the query is retried without it.
LEGACY_FIELDS = FIELDS[:-1]


def query_argv(fields: tuple[str, ...] = FIELDS) -> list[str]:
    return ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


def parse_nvidia_smi(text: str, fields: tuple[str, ...] = FIELDS) -> tuple[Gpu, ...]:
    """Rows of `index, name, memory.total (MiB), pci.bus_id, uuid[, compute_cap]`."""
    gpus = []
    for number, row in enumerate(csv.reader(text.splitlines(), skipinitialspace=True), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(fields):
            raise ToolOutputInvalid(
                f"nvidia-smi line {number} has {len(row)} fields, expected {len(fields)}"
                f" ({', '.join(fields)}): {','.join(row)[:200]!r}"
            )
        value = dict(zip(fields, (cell.strip() for cell in row), strict=True))
        capability = value.get("compute_cap", "")
        gpus.append(
            Gpu(
                index=_integer(value["index"], "index", number),
                vendor="nvidia",
                model=short(value["name"]),
                vram=0
                if _unknown(value["memory.total"])
                else _integer(value["memory.total"], "memory.total", number) * MIB,
                pci_address=normalize_pci_address(value["pci.bus_id"]),
                uuid="" if _unknown(value["uuid"]) else short(value["uuid"]),
                compute_capability="" if _unknown(capability) else short(capability),
            )
        )
    return tuple(gpus)


async def read_nvidia_smi() -> tuple[Gpu, ...]:
    """Every GPU nvidia-smi lists; ToolMissing / ToolFailed / ToolOutputInvalid otherwise."""
    try:
        return parse_nvidia_smi(await run_tool(query_argv()))
    except ToolFailed as exc:
        if "compute_cap" not in str(exc):
            raise
    return parse_nvidia_smi(await run_tool(query_argv(LEGACY_FIELDS)), LEGACY_FIELDS)


def _unknown(text: str) -> bool:
    return text.lower() in ("", "n/a", "[n/a]", "[not supported]")


def _integer(text: str, field: str, line: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ToolOutputInvalid(
            f"nvidia-smi line {line}: {field} {text!r} is not a whole number"
        ) from None
    if number < 0:
        raise ToolOutputInvalid(f"nvidia-smi line {line}: {field} {number} is negative")
    return number
