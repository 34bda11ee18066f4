"""Hardware detection: CPU, RAM, disk and GPUs of the machine a node runs on.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.hardware.amd import parse_amd_smi, parse_rocm_smi
from nunet.hardware.cpu import CpuinfoFacts, detect_cpu, parse_cpuinfo
from nunet.hardware.detect import detect_machine
from nunet.hardware.disk import detect_disk
from nunet.hardware.errors import (
    GpuDetectionError,
    HardwareDetectionError,
    ToolFailed,
    ToolMissing,
    ToolOutputInvalid,
)
from nunet.hardware.gpus import detect_gpus
from nunet.hardware.intel import parse_xpu_discovery, parse_xpu_memory
from nunet.hardware.machine import Machine
from nunet.hardware.memory import detect_memory, parse_meminfo
from nunet.hardware.nvidia_smi import parse_nvidia_smi
from nunet.hardware.nvml import NVML_LIBRARY, NvmlDevice, gpu_from_nvml, read_nvml
from nunet.hardware.pci import normalize_pci_address
from nunet.hardware.pci_display import DisplayDevice, parse_lspci_name, scan_display_devices

__all__ = [
    "NVML_LIBRARY",
    "CpuinfoFacts",
    "DisplayDevice",
    "GpuDetectionError",
    "HardwareDetectionError",
    "Machine",
    "NvmlDevice",
    "ToolFailed",
    "ToolMissing",
    "ToolOutputInvalid",
    "detect_cpu",
    "detect_disk",
    "detect_gpus",
    "detect_machine",
    "detect_memory",
    "gpu_from_nvml",
    "normalize_pci_address",
    "parse_amd_smi",
    "parse_cpuinfo",
    "parse_lspci_name",
    "parse_meminfo",
    "parse_nvidia_smi",
    "parse_rocm_smi",
    "parse_xpu_discovery",
    "parse_xpu_memory",
    "read_nvml",
    "scan_display_devices",
]
