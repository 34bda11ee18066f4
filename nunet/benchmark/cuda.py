"""GPU FP32 throughput through the CUDA driver API (libcuda.so.1, shipped with the NVIDIA
driver), called through ctypes: no Python package, no CUDA toolkit.

For each reserved NVIDIA device (found by PCI address): create a context, load the PTX kernel
of `nunet.benchmark.ptx`, launch it over every multiprocessor with a growing iteration count
until one launch fills a good part of the time left, and keep the best FLOP/s of the launches
long enough to time. Blocking: run it in a thread; it stops by itself at its deadline.
"""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Sequence
from typing import Any

from nunet.benchmark.errors import BenchmarkPartFailed
from nunet.benchmark.ptx import ENTRY, FLOPS_PER_ITERATION, kernel_source
from nunet.capability.model import Gpu
from nunet.hardware.errors import ToolOutputInvalid
from nunet.hardware.pci import normalize_pci_address

CUDA_LIBRARY = "libcuda.so.1"
BLOCK_THREADS = 256
BLOCKS_PER_MULTIPROCESSOR = 8  # 2048 resident threads per SM on most generations
MIN_TIMED_LAUNCH = 0.02  # seconds: shorter launches are mostly launch overhead
MAX_LAUNCH = 0.5  # seconds: no single launch runs longer than this is aimed at
MAX_ITERATIONS = 2**31 - 1
_MULTIPROCESSOR_COUNT = 16  # CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
_JIT_ERROR_LOG_BUFFER, _JIT_ERROR_LOG_BUFFER_SIZE = 5, 6  # CUjit_option
_LOG_BYTES = 8192


class CudaError(BenchmarkPartFailed):
    """The CUDA driver refused a call; the message names the call and the driver's reason."""


def next_iterations(iterations: int, elapsed: float, remaining: float) -> int | None:
    """The next launch's iteration count: aim at a third of the time left (at most MAX_LAUNCH),
    growing at most 64-fold per step; None when too little time is left for another launch."""
    target = min(MAX_LAUNCH, remaining / 3)
    if target < 0.001:
        return None
    scale = min(64.0, target / max(elapsed, 1e-6))
    return max(1, min(MAX_ITERATIONS, math.floor(iterations * scale)))


class CudaDriver:
    """The few driver calls the benchmark makes, each checked."""

    def __init__(self, library: str = CUDA_LIBRARY) -> None:
        try:
            self._lib: Any = ctypes.CDLL(library)
        except OSError as exc:
            raise CudaError(f"{library} could not be loaded ({exc})") from None
        self._lib.cuGetErrorName.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        self._lib.cuGetErrorString.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        self.call("cuInit", ctypes.c_uint(0))

    def call(self, name: str, *args: Any) -> None:
        try:
            function = getattr(self._lib, name)
        except AttributeError:
            raise CudaError(f"the CUDA driver has no {name}: it is too old") from None
        function.restype = ctypes.c_int
        result = function(*args)
        if result != 0:
            raise CudaError(f"CUDA {name} failed: {self._describe(result)}")

    def ordinals_by_pci_address(self) -> dict[str, int]:
        count = ctypes.c_int(0)
        self.call("cuDeviceGetCount", ctypes.byref(count))
        found = {}
        for ordinal in range(count.value):
            device = self.device(ordinal)
            text = ctypes.create_string_buffer(32)
            self.call("cuDeviceGetPCIBusId", text, ctypes.c_int(32), device)
            try:
                found[normalize_pci_address(text.value.decode("ascii", "replace"))] = ordinal
            except ToolOutputInvalid:
                continue
        return found

    def device(self, ordinal: int) -> ctypes.c_int:
        device = ctypes.c_int(0)
        self.call("cuDeviceGet", ctypes.byref(device), ctypes.c_int(ordinal))
        return device

    def _describe(self, result: int) -> str:
        name, text = ctypes.c_char_p(), ctypes.c_char_p()
        self._lib.cuGetErrorName(result, ctypes.byref(name))
        self._lib.cuGetErrorString(result, ctypes.byref(text))
        return f"{(name.value or b'CUDA_ERROR').decode()}: {(text.value or b'').decode()} (code {result})"


def measure_gpus(
    gpus: Sequence[Gpu], seconds: float, *, library: str = CUDA_LIBRARY
) -> tuple[float, tuple[str, ...]]:
    """(FP32 FLOP/s summed over `gpus`, notes). Devices share the time equally."""
    deadline = time.perf_counter() + seconds
    try:
        driver = CudaDriver(library)
        ordinals = driver.ordinals_by_pci_address()
    except CudaError as exc:
        return 0.0, (f"GPU throughput not measured: {exc}",)
    total, notes = 0.0, []
    for position, gpu in enumerate(gpus):
        ordinal = ordinals.get(gpu.pci_address) if gpu.pci_address else gpu.index
        if ordinal is None:
            notes.append(
                f"GPU {gpu.index} ({gpu.pci_address}) not measured: CUDA does not see it"
                " (CUDA_VISIBLE_DEVICES?)"
            )
            continue
        share = (deadline - time.perf_counter()) / (len(gpus) - position)
        try:
            flops, note = _device_flops(driver, ordinal, time.perf_counter() + share)
        except CudaError as exc:
            notes.append(f"GPU {gpu.index} not measured: {exc}")
            continue
        total += flops
        if note:
            notes.append(f"GPU {gpu.index}: {note}")
    return total, tuple(notes)


def _device_flops(driver: CudaDriver, ordinal: int, deadline: float) -> tuple[float, str]:
    device = driver.device(ordinal)
    multiprocessors = ctypes.c_int(0)
    driver.call(
        "cuDeviceGetAttribute", ctypes.byref(multiprocessors), _MULTIPROCESSOR_COUNT, device
    )
    context = ctypes.c_void_p()
    driver.call("cuCtxCreate_v2", ctypes.byref(context), ctypes.c_uint(0), device)
    try:
        module = _load_kernel(driver)
        try:
            blocks = max(1, multiprocessors.value) * BLOCKS_PER_MULTIPROCESSOR
            return _timed_launches(driver, module, blocks, deadline)
        finally:
            driver.call("cuModuleUnload", module)
    finally:
        driver.call("cuCtxDestroy_v2", context)


def _load_kernel(driver: CudaDriver) -> ctypes.c_void_p:
    module = ctypes.c_void_p()
    log = ctypes.create_string_buffer(_LOG_BYTES)
    options = (ctypes.c_int * 2)(_JIT_ERROR_LOG_BUFFER, _JIT_ERROR_LOG_BUFFER_SIZE)
    values = (ctypes.c_void_p * 2)(ctypes.cast(log, ctypes.c_void_p), ctypes.c_void_p(_LOG_BYTES))
    try:
        driver.call(
            "cuModuleLoadDataEx",
            ctypes.byref(module),
            ctypes.c_char_p(kernel_source().encode()),
            ctypes.c_uint(2),
            options,
            values,
        )
    except CudaError as exc:
        said = log.value.decode("utf-8", "replace").strip()
        raise CudaError(f"{exc}; the PTX compiler said: {said or 'nothing'}") from None
    return module


def _timed_launches(
    driver: CudaDriver, module: ctypes.c_void_p, blocks: int, deadline: float
) -> tuple[float, str]:
    function = ctypes.c_void_p()
    driver.call("cuModuleGetFunction", ctypes.byref(function), module, ENTRY.encode())
    threads = blocks * BLOCK_THREADS
    output = ctypes.c_uint64(0)
    driver.call("cuMemAlloc_v2", ctypes.byref(output), ctypes.c_size_t(threads * 4))
    try:
        best = longest = 0.0
        best_timed = 0.0
        iterations: int | None = 256
        while iterations is not None:
            elapsed = _launch(driver, function, output, blocks, iterations)
            rate = threads * iterations * FLOPS_PER_ITERATION / max(elapsed, 1e-9)
            if elapsed >= MIN_TIMED_LAUNCH:
                best_timed = max(best_timed, rate)
            if elapsed >= longest:
                longest, best = elapsed, rate
            iterations = next_iterations(iterations, elapsed, deadline - time.perf_counter())
        _check_output(driver, output)
    finally:
        driver.call("cuMemFree_v2", output)
    if best_timed:
        return best_timed, ""
    return best, f"no launch lasted {MIN_TIMED_LAUNCH * 1000:g} ms; the figure is a lower bound"


def _launch(
    driver: CudaDriver,
    function: ctypes.c_void_p,
    output: ctypes.c_uint64,
    blocks: int,
    iterations: int,
) -> float:
    count = ctypes.c_uint32(iterations)
    arguments = (ctypes.c_void_p * 2)(
        ctypes.cast(ctypes.byref(output), ctypes.c_void_p),
        ctypes.cast(ctypes.byref(count), ctypes.c_void_p),
    )
    start = time.perf_counter()
    driver.call(
        "cuLaunchKernel",
        function,
        ctypes.c_uint(blocks), ctypes.c_uint(1), ctypes.c_uint(1),
        ctypes.c_uint(BLOCK_THREADS), ctypes.c_uint(1), ctypes.c_uint(1),
        ctypes.c_uint(0),
        ctypes.c_void_p(None),
        arguments,
        ctypes.c_void_p(None),
    )  # fmt: skip
    driver.call("cuCtxSynchronize")
    return time.perf_counter() - start


def _check_output(driver: CudaDriver, output: ctypes.c_uint64) -> None:
    """The kernel really ran: thread 0's sum of accumulators is a finite positive number."""
    value = ctypes.c_float(0.0)
    driver.call("cuMemcpyDtoH_v2", ctypes.byref(value), output, ctypes.c_size_t(4))
    if not (math.isfinite(value.value) and value.value > 0):
        raise CudaError(f"the kernel wrote {value.value} where a positive sum was expected")
