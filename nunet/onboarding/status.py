"""Short, JSON-ready summaries of the machine and a benchmark report for status answers."""

from __future__ import annotations

from typing import Any

import msgspec

from nunet.benchmark import BenchmarkReport
from nunet.hardware.machine import Machine


def plain(value: Any) -> Any:
    """`value` as JSON would carry it (tuples become lists): answers look the same in process
    and over the API."""
    return msgspec.json.decode(msgspec.json.encode(value))


def machine_summary(machine: Machine) -> dict[str, Any]:
    """What the machine has, in canonical units (bytes), with its GPUs by index."""
    return {
        "cpu": machine.cpu.model,
        "architecture": machine.cpu.architecture,
        "cores": machine.cpu.cores,
        "threads": machine.cpu.threads,
        "ram": machine.ram,
        "ram_available": machine.ram_available,
        "disk": machine.disk,
        "disk_free": machine.disk_free,
        "gpus": [
            {"index": gpu.index, "vendor": gpu.vendor, "model": gpu.model, "vram": gpu.vram}
            for gpu in machine.gpus
        ],
        "os": machine.os,
        "kernel": machine.kernel,
        "notes": list(machine.notes),
    }


def benchmark_summary(report: BenchmarkReport) -> dict[str, Any]:
    """The measured figures (0: not measured), the peers' RTTs and what could not be measured."""
    figures: dict[str, Any] = plain(report.benchmarks)
    return {**figures, "rtt": dict(report.rtt), "notes": list(report.notes)}
