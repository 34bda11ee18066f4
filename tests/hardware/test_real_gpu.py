"""On a machine with an NVIDIA GPU and driver: real detection (NVML and nvidia-smi agree) and a
real GPU benchmark. Marked `gpu`, which the default suite deselects (CI has no GPU); run it with
`pytest -m gpu tests/hardware/test_real_gpu.py` on a GPU machine, where a missing driver fails
it, naming what is missing."""

from __future__ import annotations

import ctypes
import shutil

import pytest

from nunet.benchmark import measure_gpus
from nunet.hardware import read_nvml
from nunet.hardware.nvidia_smi import read_nvidia_smi


def _driver_missing() -> str:
    for library in ("libnvidia-ml.so.1", "libcuda.so.1"):
        try:
            ctypes.CDLL(library)
        except OSError:
            return f"no NVIDIA driver here: {library} cannot be loaded"
    return "" if shutil.which("nvidia-smi") else "no NVIDIA driver here: nvidia-smi is not on PATH"


pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def nvidia_driver() -> None:
    missing = _driver_missing()
    if missing:
        pytest.fail(f"marked gpu, but {missing}")


async def test_nvml_and_nvidia_smi_agree_and_the_gpu_computes() -> None:
    from_nvml = read_nvml()
    from_smi = await read_nvidia_smi()
    assert from_nvml, "the driver is loaded but NVML lists no GPU"
    assert [(g.index, g.model, g.pci_address, g.uuid, g.compute_capability) for g in from_nvml] == [
        (g.index, g.model, g.pci_address, g.uuid, g.compute_capability) for g in from_smi
    ]
    for nvml_gpu, smi_gpu in zip(from_nvml, from_smi, strict=True):
        assert abs(nvml_gpu.vram - smi_gpu.vram) < 1024 * 1024  # nvidia-smi rounds to MiB
    flops, notes = measure_gpus(from_nvml[:1], 3.0)
    assert flops > 1e11, notes  # any CUDA GPU of the last decade does over 0.1 TFLOP/s
