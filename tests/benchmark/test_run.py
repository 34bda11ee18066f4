"""Whole benchmark runs on this machine (2 cores, no GPU) and the stored report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from nunet.benchmark import (
    BenchmarkError,
    BenchmarkReport,
    BenchmarkStore,
    StoredReportInvalid,
    run_benchmarks,
)
from nunet.capability.model import Benchmarks, Gpu, Resources
from nunet.db import DocumentStore, MemoryDocumentStore, SQLiteDocumentStore

GIB = 1024**3
SHARE = Resources(cpu=2, ram=4 * GIB, disk=8 * GIB)


async def probe() -> Mapping[str, float]:
    return {"did:key:a": 0.012, "did:key:b": 0.031, "did:key:c": 0.018}


async def test_a_three_second_run_measures_cpu_memory_disk_and_rtt(tmp_path: Path) -> None:
    before = time.time()
    report = await run_benchmarks(SHARE, workdir=tmp_path, budget_seconds=3.0, rtt_probe=probe)
    figures = report.benchmarks
    for name in (
        "cpu_single",
        "cpu_multi",
        "memory_bandwidth",
        "disk_read",
        "disk_write",
        "disk_random_iops",
    ):
        assert getattr(figures, name) > 0, name
    assert figures.network_rtt == 0.018
    assert report.rtt == {"did:key:a": 0.012, "did:key:b": 0.031, "did:key:c": 0.018}
    assert figures.gpu_flops == 0.0
    assert "GPU throughput not measured: the share reserves no GPU" in report.notes
    assert before <= figures.measured_at <= time.time()
    assert 0 < figures.duration < 4 * 3.0  # it stops: a bound on termination, not on speed
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # the test file is gone


async def test_every_part_stops_on_a_tiny_budget(tmp_path: Path) -> None:
    started = time.monotonic()
    report = await run_benchmarks(SHARE, workdir=tmp_path, budget_seconds=0.3)
    assert time.monotonic() - started < 4 * 0.3 + 2  # + the worker's kill-backstop, if ever
    assert report.benchmarks.duration > 0
    assert "network RTT not measured: no peer probe was given" in report.notes
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


async def test_fractional_and_empty_shares_say_what_was_not_measured(tmp_path: Path) -> None:
    amd = Gpu(index=0, vendor="amd", model="AMD Instinct MI210", vram=64 * GIB)
    h100 = Gpu(
        index=0, vendor="nvidia", model="NVIDIA H100", vram=80 * GIB, pci_address="0000:19:00.0"
    )
    share = Resources(cpu=0, ram=0, disk=0, gpus=(amd, h100))
    report = await run_benchmarks(share, workdir=tmp_path, budget_seconds=0.5)
    notes = " | ".join(report.notes)
    assert "CPU not measured: the share reserves no CPU" in notes
    assert "memory bandwidth not measured" in notes
    assert "disk not measured" in notes
    assert "measured on NVIDIA devices only; not measured: amd GPU 0" in notes
    assert "libcuda.so.1 could not be loaded" in notes  # no NVIDIA driver on this machine
    assert report.benchmarks == Benchmarks(
        measured_at=report.benchmarks.measured_at, duration=report.benchmarks.duration
    )


async def test_half_a_core_is_credited_with_half_a_core(tmp_path: Path) -> None:
    report = await run_benchmarks(Resources(cpu=0.5), workdir=tmp_path, budget_seconds=2.0)
    assert report.benchmarks.cpu_single > 0
    # One worker ran for both scores; each is scaled by the half core reserved.
    assert report.benchmarks.cpu_multi > 0


@pytest.mark.parametrize("budget", [0.0, -3.0, float("nan"), 1e9])
async def test_bad_budget_is_refused(tmp_path: Path, budget: float) -> None:
    with pytest.raises(BenchmarkError, match="budget_seconds must be"):
        await run_benchmarks(SHARE, workdir=tmp_path, budget_seconds=budget)


async def test_missing_workdir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="missing is not a directory"):
        await run_benchmarks(SHARE, workdir=tmp_path / "missing", budget_seconds=1.0)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    documents: DocumentStore = (
        MemoryDocumentStore()
        if request.param == "memory"
        else await SQLiteDocumentStore.open(tmp_path / "node.db")
    )
    async with documents:
        yield documents


async def test_the_latest_report_round_trips(store: DocumentStore) -> None:
    benchmarks = BenchmarkStore(store)
    assert await benchmarks.latest() is None
    first = BenchmarkReport(Benchmarks(cpu_single=1.5, measured_at=10.0, duration=3.0), {}, ("a",))
    second = BenchmarkReport(
        Benchmarks(cpu_single=2.5, network_rtt=0.02, measured_at=20.0, duration=2.9),
        {"did:key:a": 0.02},
        ("GPU throughput not measured: the share reserves no GPU",),
    )
    await benchmarks.save(first)
    await benchmarks.save(second)
    assert await benchmarks.latest() == second
    assert await store.collections() == ["benchmark"]


async def test_a_damaged_stored_report_is_named(store: DocumentStore) -> None:
    await store.put("benchmark", "latest", {"benchmarks": {"cpu_single": -1}})
    with pytest.raises(
        StoredReportInvalid, match=r"benchmark/latest\) is not valid.*nunet benchmark"
    ):
        await BenchmarkStore(store).latest()
