"""GPU detection through each backend's runner, and the whole machine, on this GPU-less machine.

NVML is loaded from a C stand-in (tests/hardware/fake_nvml.c, built with gcc) and the vendor
tools are shell scripts printing real-format output: no GPU, driver or tool is installed here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from nunet.hardware import (
    HardwareDetectionError,
    NvmlDevice,
    ToolFailed,
    ToolMissing,
    detect_gpus,
    detect_machine,
    gpu_from_nvml,
    read_nvml,
)
from nunet.hardware.tool import run_tool
from tests.hardware import samples
from tests.hardware.clib import build_library

HERE = Path(__file__).parent
NO_LIBRARY = "libnunet-test-absent.so.1"
# Found before a test narrows PATH to its own tools directory.
CAT, SLEEP = shutil.which("cat"), shutil.which("sleep")


@pytest.fixture(scope="module")
def nvml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(HERE / "fake_nvml.c", tmp_path_factory.mktemp("nvml"))


@pytest.fixture(scope="module")
def nvml_not_loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(HERE / "fake_nvml.c", tmp_path_factory.mktemp("nvml"), "FAIL_INIT")


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is the whole PATH: a test puts the tools it wants there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def install(bin_dir: Path, name: str, script: str) -> None:
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)


def printing(text: str) -> str:
    return f"{CAT} <<'END'\n{text}END\n"


def test_nvml_lists_devices_through_ctypes(nvml: Path) -> None:
    h100, a10 = read_nvml(str(nvml))
    assert (h100.index, h100.vendor, h100.model) == (0, "nvidia", "NVIDIA H100 80GB HBM3")
    assert (h100.vram, h100.pci_address, h100.compute_capability) == (
        85520809984,
        "0000:19:00.0",
        "9.0",
    )
    assert h100.uuid.startswith("GPU-0")
    # the second device cannot say its compute capability: still listed, field empty
    assert (a10.index, a10.pci_address, a10.compute_capability) == (1, "0000:c1:00.0", "")


def test_nvml_error_names_the_call_and_the_reason(nvml_not_loaded: Path) -> None:
    with pytest.raises(ToolFailed, match=r"nvmlInit_v2 failed: Driver Not Loaded \(code 9\)"):
        read_nvml(str(nvml_not_loaded))


def test_nvml_missing_library_is_tool_missing() -> None:
    with pytest.raises(ToolMissing, match=NO_LIBRARY):
        read_nvml(NO_LIBRARY)


def test_gpu_from_nvml_is_pure() -> None:
    device = NvmlDevice(
        index=3, name=b"NVIDIA H200", memory_total=150754820096, bus_id=b"00000000:9B:00.0",
        uuid=b"GPU-x", compute_capability=(9, 0),
    )  # fmt: skip
    gpu = gpu_from_nvml(device)
    assert (gpu.index, gpu.model, gpu.pci_address, gpu.compute_capability) == (
        3, "NVIDIA H200", "0000:9b:00.0", "9.0",
    )  # fmt: skip


async def test_no_gpu_here_gives_no_device_and_notes_naming_each_missing_tool(tools: Path) -> None:
    gpus, notes = await detect_gpus(nvml_library=NO_LIBRARY)
    assert gpus == ()
    text = " | ".join(notes)
    for missing in (NO_LIBRARY, "nvidia-smi is not on PATH", "neither amd-smi nor rocm-smi",
                    "xpu-smi is not on PATH"):  # fmt: skip
        assert missing in text


async def test_this_machine_has_no_gpu_and_says_why() -> None:
    gpus, notes = await detect_gpus()
    assert gpus == ()
    assert any("libnvidia-ml.so.1" in n and "nvidia-smi" in n for n in notes)
    assert any("amd-smi" in n for n in notes)
    assert any("xpu-smi" in n for n in notes)


async def test_nvml_first_then_nvidia_smi(tools: Path, nvml: Path) -> None:
    install(tools, "nvidia-smi", printing(samples.NVIDIA_SMI_H100))
    gpus, _ = await detect_gpus(nvml_library=str(nvml))
    assert [g.model for g in gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA A10"]  # from NVML
    gpus, notes = await detect_gpus(nvml_library=NO_LIBRARY)
    assert len(gpus) == 4
    assert gpus[3].pci_address == "0000:5d:00.0"
    assert any("NVIDIA GPUs read from nvidia-smi" in n for n in notes)


async def test_old_nvidia_smi_without_compute_cap_is_asked_again(tools: Path) -> None:
    install(
        tools,
        "nvidia-smi",
        'case "$1" in *compute_cap*) echo \'Field "compute_cap" is not a valid field to query.\' >&2;'
        " exit 2;; esac\n" + printing(samples.NVIDIA_SMI_LEGACY),
    )
    gpus, _ = await detect_gpus(nvml_library=NO_LIBRARY)
    assert [g.model for g in gpus] == ["Tesla T4", "GRID A100D-40C"]


async def test_amd_smi_preferred_then_rocm_smi(tools: Path) -> None:
    install(tools, "rocm-smi", printing(samples.ROCM_SMI))
    gpus, _ = await detect_gpus(nvml_library=NO_LIBRARY)
    assert [g.model for g in gpus if g.vendor == "amd"][1] == "Radeon RX 7900 XT"
    install(tools, "amd-smi", printing(samples.AMD_SMI_MI210))
    gpus, _ = await detect_gpus(nvml_library=NO_LIBRARY)
    assert [g.model for g in gpus if g.vendor == "amd"] == ["AMD Instinct MI210"]


async def test_xpu_smi_discovery_then_details_for_vram(tools: Path) -> None:
    install(
        tools,
        "xpu-smi",
        f'if [ "$2" = "-d" ]; then\n{printing(samples.XPU_SMI_DEVICE)}else\n'
        f"{printing(samples.XPU_SMI_DISCOVERY)}fi\n",
    )
    gpus, _ = await detect_gpus(nvml_library=NO_LIBRARY)
    (intel,) = [g for g in gpus if g.vendor == "intel"]
    assert (intel.model, intel.vram) == ("Intel(R) Graphics [0x020a]", 51522830336)


async def test_a_failing_tool_becomes_a_note(tools: Path) -> None:
    install(tools, "amd-smi", "echo 'amdgpu driver not loaded' >&2; exit 1\n")
    gpus, notes = await detect_gpus(nvml_library=NO_LIBRARY)
    assert gpus == ()
    assert any("exited with status 1: amdgpu driver not loaded" in n for n in notes)


async def test_garbled_tool_output_becomes_a_note(tools: Path) -> None:
    install(tools, "nvidia-smi", "echo 'not, csv'\n")
    gpus, notes = await detect_gpus(nvml_library=NO_LIBRARY)
    assert gpus == ()
    assert any("has 2 fields, expected 6" in n for n in notes)


def pci_device(
    root: Path, address: str, pci_class: str, vendor: str, device: str, **files: str
) -> None:
    path = root / "bus" / "pci" / "devices" / address
    path.mkdir(parents=True)
    for name, text in {"class": pci_class, "vendor": vendor, "device": device, **files}.items():
        (path / name).write_text(text + "\n")


async def test_sysfs_finds_gpus_when_no_tool_is_installed(tools: Path, tmp_path: Path) -> None:
    sys = tmp_path / "sys"
    pci_device(sys, "0000:00:02.0", "0x030000", "0x8086", "0x46a6")  # Intel iGPU
    pci_device(
        sys, "0000:03:00.0", "0x030000", "0x1002", "0x744c", mem_info_vram_total="21458059264"
    )
    pci_device(sys, "0000:00:1f.3", "0x040300", "0x8086", "0x51c8")  # audio: not a GPU
    pci_device(sys, "0000:65:00.0", "0x030200", "0x10de", "0x2335")  # NVIDIA, no driver
    install(tools, "lspci", printing(samples.LSPCI_MM))
    gpus, notes = await detect_gpus(sys=sys, nvml_library=NO_LIBRARY)
    intel = next(g for g in gpus if g.vendor == "intel")
    amd = next(g for g in gpus if g.vendor == "amd")
    assert (intel.pci_address, intel.model, intel.vram) == (
        "0000:00:02.0",
        "Alder Lake-P GT2 [Iris Xe Graphics]",
        0,
    )
    assert (amd.pci_address, amd.vram) == ("0000:03:00.0", 21458059264)
    assert not any(g.vendor == "nvidia" for g in gpus)
    assert any("0000:65:00.0: install the NVIDIA driver" in n for n in notes)
    assert any("Intel GPU VRAM unknown" in n for n in notes)


async def test_tool_runner_stops_a_tool_that_hangs(tools: Path) -> None:
    install(tools, "stuck-smi", f"exec {SLEEP} 30\n")
    with pytest.raises(ToolFailed, match=r"did not answer within 0\.2 s"):
        await run_tool(["stuck-smi"], timeout=0.2)


async def test_machine_on_this_host(tmp_path: Path) -> None:
    machine = await detect_machine(tmp_path)
    assert machine.cpu.threads == os.cpu_count()
    assert machine.ram == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < machine.ram_available <= machine.ram
    stats = os.statvfs(tmp_path)
    assert machine.disk == stats.f_blocks * stats.f_frsize
    assert 0 < machine.disk_free <= machine.disk
    assert machine.os == "linux"
    assert machine.kernel == os.uname().release
    assert machine.gpus == ()
    assert any("nvidia-smi" in n for n in machine.notes)


async def test_machine_keeps_the_event_loop_free(tmp_path: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await detect_machine(tmp_path)
    task.cancel()
    assert ticks > 1


async def test_machine_with_a_missing_disk_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HardwareDetectionError, match="does not exist"):
        await detect_machine(tmp_path / "nowhere")
