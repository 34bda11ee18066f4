"""NVIDIA GPUs through NVML (libnvidia-ml.so.1, shipped with the driver), called through ctypes.

NVML is NVIDIA's stable C interface (nvidia-smi is built on it); reading it needs no Python
package. `gpu_from_nvml` is the pure conversion; `read_nvml` is the thin, blocking shell.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from nunet.capability.model import Gpu
from nunet.hardware.errors import GpuDetectionError, ToolFailed, ToolMissing
from nunet.hardware.pci import normalize_pci_address, short

NVML_LIBRARY = "libnvidia-ml.so.1"
_SUCCESS = 0
_NAME_BUFFER = 96  # NVML_DEVICE_NAME_V2_BUFFER_SIZE
_UUID_BUFFER = 96  # NVML_DEVICE_UUID_V2_BUFFER_SIZE


class NvmlMemory(ctypes.Structure):
    """nvmlMemory_t: bytes."""

    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


class NvmlPciInfo(ctypes.Structure):
    """nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 fills it."""

    _fields_ = [
        ("busIdLegacy", ctypes.c_char * 16),
        ("domain", ctypes.c_uint),
        ("bus", ctypes.c_uint),
        ("device", ctypes.c_uint),
        ("pciDeviceId", ctypes.c_uint),
        ("pciSubSystemId", ctypes.c_uint),
        ("busId", ctypes.c_char * 32),
    ]


@dataclass(frozen=True, slots=True)
class NvmlDevice:
    """One device as NVML reports it, before conversion."""

    index: int
    name: bytes
    memory_total: int
    bus_id: bytes  # "00000000:19:00.0"; empty if NVML could not say
    uuid: bytes  # "GPU-..."; empty if NVML could not say
    compute_capability: tuple[int, int] | None


def gpu_from_nvml(device: NvmlDevice) -> Gpu:
    capability = device.compute_capability
    return Gpu(
        index=device.index,
        vendor="nvidia",
        model=short(device.name.decode("utf-8", "replace")),
        vram=device.memory_total,
        pci_address=normalize_pci_address(device.bus_id.decode("ascii", "replace")),
        uuid=short(device.uuid.decode("ascii", "replace")),
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else "",
    )


def read_nvml(library: str = NVML_LIBRARY) -> tuple[Gpu, ...]:
    """Every NVIDIA GPU NVML lists. Blocking: call it off the event loop.

    ToolMissing if the library cannot be loaded (no driver); ToolFailed if NVML reports an
    error (the driver is not loaded, the library does not match the kernel module, ...).
    """
    try:
        nvml = ctypes.CDLL(library)
    except OSError as exc:
        raise ToolMissing(f"{library} could not be loaded ({exc})") from None
    _declare(nvml)
    _check(nvml, nvml.nvmlInit_v2(), "nvmlInit_v2")
    try:
        count = ctypes.c_uint(0)
        _check(nvml, nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)), "nvmlDeviceGetCount_v2")
        return tuple(gpu_from_nvml(_device(nvml, index)) for index in range(count.value))
    finally:
        nvml.nvmlShutdown()


def _device(nvml: Any, index: int) -> NvmlDevice:
    handle = ctypes.c_void_p()
    _check(
        nvml,
        nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)),
        f"nvmlDeviceGetHandleByIndex_v2({index})",
    )
    name = ctypes.create_string_buffer(_NAME_BUFFER)
    _check(nvml, nvml.nvmlDeviceGetName(handle, name, _NAME_BUFFER), "nvmlDeviceGetName")
    memory = NvmlMemory()
    _check(
        nvml, nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)), "nvmlDeviceGetMemoryInfo"
    )
    # The rest is descriptive: a device that cannot say (a vGPU, an old driver) is still listed.
    pci = NvmlPciInfo()
    bus_id = (
        pci.busId if nvml.nvmlDeviceGetPciInfo_v3(handle, ctypes.byref(pci)) == _SUCCESS else b""
    )
    uuid = ctypes.create_string_buffer(_UUID_BUFFER)
    uuid_ok = nvml.nvmlDeviceGetUUID(handle, uuid, _UUID_BUFFER) == _SUCCESS
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    capability_ok = (
        nvml.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor))
        == _SUCCESS
    )
    return NvmlDevice(
        index=index,
        name=name.value,
        memory_total=memory.total,
        bus_id=bus_id,
        uuid=uuid.value if uuid_ok else b"",
        compute_capability=(major.value, minor.value) if capability_ok else None,
    )


def _declare(nvml: Any) -> None:
    handle, uint, p = ctypes.c_void_p, ctypes.c_uint, ctypes.POINTER
    signatures: dict[str, list[Any]] = {
        "nvmlInit_v2": [],
        "nvmlShutdown": [],
        "nvmlDeviceGetCount_v2": [p(uint)],
        "nvmlDeviceGetHandleByIndex_v2": [uint, p(handle)],
        "nvmlDeviceGetName": [handle, ctypes.c_char_p, uint],
        "nvmlDeviceGetMemoryInfo": [handle, p(NvmlMemory)],
        "nvmlDeviceGetPciInfo_v3": [handle, p(NvmlPciInfo)],
        "nvmlDeviceGetUUID": [handle, ctypes.c_char_p, uint],
        "nvmlDeviceGetCudaComputeCapability": [handle, p(ctypes.c_int), p(ctypes.c_int)],
    }
    try:
        for name, argtypes in signatures.items():
            function = getattr(nvml, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_int
        nvml.nvmlErrorString.argtypes = [ctypes.c_int]
        nvml.nvmlErrorString.restype = ctypes.c_char_p
    except AttributeError as exc:
        raise GpuDetectionError(f"the NVML library lacks a function nunet needs: {exc}") from None


def _check(nvml: Any, result: int, call: str) -> None:
    if result != _SUCCESS:
        text = nvml.nvmlErrorString(result) or b"unknown error"
        raise ToolFailed(f"NVML {call} failed: {text.decode('utf-8', 'replace')} (code {result})")
