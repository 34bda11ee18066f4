"""One benchmark run of the reserved share, every part time-boxed so the whole stays in budget.

Parts run one after another (so they do not disturb each other's figures), each with the slice
`budget.plan` gives it and never past the run's own deadline; a part that cannot run leaves its
figure 0 and says why in the notes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from nunet.benchmark.budget import RESERVE, check_budget, plan
from nunet.benchmark.cpu import measure_cpu_multi, measure_cpu_single
from nunet.benchmark.cuda import measure_gpus
from nunet.benchmark.disk import file_size, measure_disk
from nunet.benchmark.errors import BenchmarkError, BenchmarkPartFailed
from nunet.benchmark.memory import buffer_size, measure_memory
from nunet.benchmark.network import RttProbe, measure_rtt
from nunet.benchmark.report import BenchmarkReport
from nunet.capability.model import Benchmarks, Resources

MIN_SLICE = 0.01  # seconds; a part left less than this is skipped with a note


@dataclass
class _Figures:
    values: dict[str, float] = field(default_factory=dict)
    rtt: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def run_benchmarks(
    share: Resources,
    *,
    workdir: Path,
    budget_seconds: float = 30.0,
    rtt_probe: RttProbe | None = None,
) -> BenchmarkReport:
    """Measure what `share` can do, in about `budget_seconds` (never much more).

    `workdir` (which must exist) holds the disk test file, removed before this returns.
    `rtt_probe` measures seconds to known peers; without one, RTT is not measured.
    """
    budget = check_budget(budget_seconds)
    if not await asyncio.to_thread(workdir.is_dir):
        raise BenchmarkError(f"workdir {workdir} is not a directory: create it, or pass another")
    measured_at = time.time()
    start = time.monotonic()
    figures = _Figures()
    parts = _parts(share, workdir, rtt_probe, figures)
    slices = plan(budget, [name for name, _ in parts])
    run_deadline = start + budget * (1 - RESERVE / 2)
    for name, part in parts:
        seconds = min(slices[name], run_deadline - time.monotonic())
        if seconds < MIN_SLICE:
            figures.notes.append(f"{name} not measured: the budget of {budget:g} s was spent")
            continue
        try:
            await part(seconds)
        except BenchmarkPartFailed as exc:
            figures.notes.append(f"{name} not measured: {exc}")
    return BenchmarkReport(
        benchmarks=Benchmarks(
            **figures.values, measured_at=measured_at, duration=time.monotonic() - start
        ),
        rtt=figures.rtt,
        notes=tuple(figures.notes),
    )


Part = Callable[[float], Awaitable[None]]


def _parts(
    share: Resources, workdir: Path, probe: RttProbe | None, figures: _Figures
) -> list[tuple[str, Part]]:
    """The parts this share can run, in order; a note for each that cannot."""
    parts: list[tuple[str, Part]] = []
    notes = figures.notes

    async def network(seconds: float) -> None:
        assert probe is not None
        median, figures.rtt, more = await measure_rtt(probe, seconds)
        figures.values["network_rtt"] = median
        notes.extend(more)

    async def cpu_single(seconds: float) -> None:
        figures.values["cpu_single"] = await measure_cpu_single(share.cpu, seconds)

    async def cpu_multi(seconds: float) -> None:
        figures.values["cpu_multi"] = await measure_cpu_multi(share.cpu, seconds)

    async def memory(seconds: float) -> None:
        size = buffer_size(share.ram)
        figures.values["memory_bandwidth"] = await measure_memory(size, seconds)

    async def disk(seconds: float) -> None:
        size = file_size(share.disk, await asyncio.to_thread(_free_bytes, workdir))
        if size == 0:
            notes.append(f"disk not measured: less than 1 MiB to spare in {workdir}")
            return
        result = await asyncio.to_thread(measure_disk, workdir, size, seconds)
        figures.values |= {
            "disk_write": result.write,
            "disk_read": result.read,
            "disk_random_iops": result.random_iops,
        }
        notes.extend(result.notes)

    async def gpu(seconds: float) -> None:
        flops, more = await asyncio.to_thread(measure_gpus, nvidia, seconds)
        figures.values["gpu_flops"] = flops
        notes.extend(more)

    if probe is None:
        notes.append("network RTT not measured: no peer probe was given")
    else:
        parts.append(("network", network))
    if share.cpu > 0:
        parts += [("cpu_single", cpu_single), ("cpu_multi", cpu_multi)]
    else:
        notes.append("CPU not measured: the share reserves no CPU")
    if buffer_size(share.ram):
        parts.append(("memory", memory))
    else:
        notes.append("memory bandwidth not measured: the share reserves less than 4 MiB of RAM")
    if share.disk >= 4 * 1024 * 1024:
        parts.append(("disk", disk))
    else:
        notes.append("disk not measured: the share reserves less than 4 MiB of disk")
    nvidia = [g for g in share.gpus if g.vendor == "nvidia"]
    others = [g for g in share.gpus if g.vendor != "nvidia"]
    if others:
        notes.append(
            "GPU throughput is measured on NVIDIA devices only; not measured: "
            + ", ".join(f"{g.vendor} GPU {g.index}" for g in others)
        )
    if nvidia:
        parts.append(("gpu", gpu))
    elif not share.gpus:
        notes.append("GPU throughput not measured: the share reserves no GPU")
    return parts


def _free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
