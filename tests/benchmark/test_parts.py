"""The benchmark's parts one by one: budget plan, workloads, disk, network, the CUDA path."""

from __future__ import annotations

import asyncio
import ctypes
import math
import time
import zlib
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.benchmark import BenchmarkError, measure_gpus, next_iterations, plan
from nunet.benchmark._worker import copy_for, corpus, deflate_for
from nunet.benchmark.budget import MAX_BUDGET, RESERVE, WEIGHTS
from nunet.benchmark.cpu import worker_count
from nunet.benchmark.disk import BLOCK, MAX_FILE, file_size, measure_disk
from nunet.benchmark.memory import buffer_size
from nunet.benchmark.network import measure_rtt
from nunet.benchmark.ptx import FLOPS_PER_ITERATION
from nunet.benchmark.workers import run_worker
from nunet.capability.model import Gpu
from tests.hardware.clib import build_library

HERE = Path(__file__).parent
H100 = Gpu(index=0, vendor="nvidia", model="NVIDIA H100", vram=1, pci_address="0000:19:00.0")


@given(
    budget=st.floats(0.001, MAX_BUDGET),
    parts=st.lists(st.sampled_from(sorted(WEIGHTS)), min_size=1, unique=True),
)
def test_plan_shares_the_usable_budget_by_weight(budget: float, parts: list[str]) -> None:
    slices = plan(budget, parts)
    assert set(slices) == set(parts)
    assert math.isclose(sum(slices.values()), budget * (1 - RESERVE), rel_tol=1e-9)
    for part in parts:
        assert slices[part] > 0
        assert math.isclose(slices[part] / slices[parts[0]], WEIGHTS[part] / WEIGHTS[parts[0]])


@pytest.mark.parametrize("budget", [0, -1, float("nan"), float("inf"), MAX_BUDGET * 2, "30"])
def test_bad_budgets_are_refused_with_the_range(budget: object) -> None:
    with pytest.raises(BenchmarkError, match="budget_seconds must be"):
        plan(budget, ["cpu_single"])  # type: ignore[arg-type]


def test_unknown_parts_are_named() -> None:
    with pytest.raises(BenchmarkError, match=r"unknown benchmark parts \['quantum'\]"):
        plan(1.0, ["quantum"])


def test_the_cpu_corpus_is_the_same_everywhere() -> None:
    # Scores are comparable between nodes only while every node deflates the same bytes.
    assert corpus() == corpus()
    assert len(corpus()) == 64 * 1024
    assert zlib.crc32(corpus()) == 0x40C8BCD8


def test_a_late_worker_still_does_one_unit_of_work() -> None:
    operations, elapsed = deflate_for(time.monotonic() - 1)
    assert operations == 64
    assert elapsed > 0


def test_workloads_count_their_work() -> None:
    operations, elapsed = deflate_for(time.monotonic() + 0.05)
    assert operations > 0
    assert operations % 64 == 0
    assert elapsed > 0
    copied, elapsed = copy_for(time.monotonic() + 0.05, 1024 * 1024)
    assert copied > 0
    assert copied % (1024 * 1024) == 0
    assert elapsed > 0


async def test_a_worker_process_reports_a_rate() -> None:
    assert await run_worker("cpu", 0.05) > 0
    assert await run_worker("memory", 0.05, str(1024 * 1024)) > 0


@given(cores=st.floats(0.01, 512))
def test_workers_cover_the_reserved_cores_within_the_machine(cores: float) -> None:
    import os

    count = worker_count(cores)
    assert 1 <= count <= (os.cpu_count() or 1)
    assert count == min(math.ceil(cores), os.cpu_count() or 1)


@given(ram=st.integers(0, 2**40), disk=st.integers(0, 2**42), free=st.integers(0, 2**42))
def test_test_sizes_stay_within_the_share(ram: int, disk: int, free: int) -> None:
    memory = buffer_size(ram)
    assert memory == 0 or (1024 * 1024 <= memory <= ram // 4 and memory <= 128 * 1024 * 1024)
    size = file_size(disk, free)
    assert size % BLOCK == 0
    assert 0 <= size <= min(MAX_FILE, disk // 4, free // 2)


def test_disk_measures_and_removes_its_file(tmp_path: Path) -> None:
    result = measure_disk(tmp_path, 8 * BLOCK, 0.6)
    assert result.write > 0
    assert result.read > 0
    assert result.random_iops > 0
    assert list(tmp_path.iterdir()) == []


def test_disk_in_a_directory_that_vanished_is_a_note(tmp_path: Path) -> None:
    result = measure_disk(tmp_path / "gone", BLOCK, 0.2)
    assert (result.write, result.read, result.random_iops) == (0.0, 0.0, 0.0)
    assert "disk not measured" in result.notes[0]


async def test_rtt_is_the_median_of_the_probe_and_bad_values_are_named() -> None:
    async def probe() -> Mapping[str, float]:
        return {"did:a": 0.030, "did:b": 0.010, "did:c": 0.020, "did:d": float("nan")}

    median, rtt, notes = await measure_rtt(probe, 1.0)
    assert median == 0.020
    assert rtt == {"did:a": 0.030, "did:b": 0.010, "did:c": 0.020}
    assert notes == ("RTT to did:d ignored: nan is not a number of seconds",)


async def test_a_probe_that_never_answers_is_cut_off() -> None:
    never = asyncio.Event()

    async def probe() -> Mapping[str, float]:
        await never.wait()
        return {}

    assert await measure_rtt(probe, 0.05) == (
        0.0,
        {},
        ("network RTT not measured: the peer probe took longer than 0.05 s",),
    )


async def test_a_failing_or_empty_probe_is_a_note() -> None:
    async def failing() -> Mapping[str, float]:
        raise ConnectionError("no route to hub")

    async def empty() -> Mapping[str, float]:
        return {}

    assert "failed: no route to hub" in (await measure_rtt(failing, 1.0))[2][0]
    assert "reached no peer" in (await measure_rtt(empty, 1.0))[2][0]


@given(
    iterations=st.integers(1, 2**31 - 1),
    elapsed=st.floats(0, 10),
    remaining=st.floats(-1, 100),
)
def test_iterations_grow_boundedly_and_stop_when_time_is_short(
    iterations: int, elapsed: float, remaining: float
) -> None:
    following = next_iterations(iterations, elapsed, remaining)
    if remaining < 0.003:
        assert following is None
        return
    assert following is not None
    assert 1 <= following <= min(2**31 - 1, iterations * 64)


@pytest.fixture(scope="module")
def cuda(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(HERE / "fake_cuda.c", tmp_path_factory.mktemp("cuda"))


def test_gpu_flops_through_the_driver_api(cuda: Path) -> None:
    """The C stand-in checks every launch's arguments and takes as long as a device doing
    2e10 thread-iterations per second would: the measured rate cannot exceed that."""
    flops, notes = measure_gpus([H100], 0.5, library=str(cuda))
    assert notes == ()
    fake = ctypes.CDLL(str(cuda))
    assert ctypes.c_int.in_dll(fake, "launches").value > 2  # calibration grew the launches
    assert ctypes.c_uint.in_dll(fake, "last_grid").value == 4 * 8
    assert 0 < flops <= 2.0e10 * FLOPS_PER_ITERATION * 1.01


def test_a_gpu_cuda_does_not_see_is_a_note(cuda: Path) -> None:
    elsewhere = Gpu(index=1, vendor="nvidia", model="x", vram=1, pci_address="0000:c1:00.0")
    flops, notes = measure_gpus([elsewhere], 0.2, library=str(cuda))
    assert flops == 0.0
    assert notes == (
        "GPU 1 (0000:c1:00.0) not measured: CUDA does not see it (CUDA_VISIBLE_DEVICES?)",
    )


def test_a_rejected_kernel_reports_the_compiler_log(tmp_path: Path) -> None:
    bad = build_library(HERE / "fake_cuda.c", tmp_path, "BAD_PTX")
    flops, notes = measure_gpus([H100], 0.2, library=str(bad))
    assert flops == 0.0
    assert "CUDA_ERROR_INVALID_PTX" in notes[0]
    assert "Unresolved extern function" in notes[0]


def test_no_driver_is_a_note_naming_the_library() -> None:
    flops, notes = measure_gpus([H100], 0.2, library="libnunet-test-absent.so.1")
    assert flops == 0.0
    assert notes[0].startswith(
        "GPU throughput not measured: libnunet-test-absent.so.1 could not be loaded"
    )
