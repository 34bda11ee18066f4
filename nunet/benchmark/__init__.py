"""Benchmarking the onboarded share: CPU, memory, disk, network RTT and GPU, in a time budget.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.benchmark.budget import MAX_BUDGET, plan
from nunet.benchmark.cuda import CUDA_LIBRARY, CudaError, measure_gpus, next_iterations
from nunet.benchmark.errors import BenchmarkError, BenchmarkPartFailed, StoredReportInvalid
from nunet.benchmark.network import RttProbe
from nunet.benchmark.ptx import kernel_source
from nunet.benchmark.report import BenchmarkReport
from nunet.benchmark.run import run_benchmarks
from nunet.benchmark.store import BenchmarkStore

__all__ = [
    "CUDA_LIBRARY",
    "MAX_BUDGET",
    "BenchmarkError",
    "BenchmarkPartFailed",
    "BenchmarkReport",
    "BenchmarkStore",
    "CudaError",
    "RttProbe",
    "StoredReportInvalid",
    "kernel_source",
    "measure_gpus",
    "next_iterations",
    "plan",
    "run_benchmarks",
]
