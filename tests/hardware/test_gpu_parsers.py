"""Each GPU tool's parser on output in that tool's real format (see samples.py for sources)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.hardware import (
    ToolOutputInvalid,
    normalize_pci_address,
    parse_amd_smi,
    parse_lspci_name,
    parse_nvidia_smi,
    parse_rocm_smi,
    parse_xpu_discovery,
    parse_xpu_memory,
)
from nunet.hardware.nvidia_smi import LEGACY_FIELDS, query_argv
from tests.hardware import samples

MIB = 1024 * 1024


def test_nvidia_smi_rows_become_gpus_with_bytes_and_one_pci_spelling() -> None:
    gpus = parse_nvidia_smi(samples.NVIDIA_SMI_H100)
    assert [g.index for g in gpus] == [0, 1, 2, 3]
    first = gpus[0]
    assert (first.vendor, first.model, first.vram) == (
        "nvidia",
        "NVIDIA H100 80GB HBM3",
        81559 * MIB,
    )
    assert first.pci_address == "0000:19:00.0"
    assert gpus[1].pci_address == "0000:3b:00.0"
    assert first.uuid == "GPU-2b5a5b4e-9a1c-4b8e-8f1e-0c6d5e4f3a21"
    assert first.compute_capability == "9.0"


def test_nvidia_smi_legacy_query_and_na_values() -> None:
    tesla, vgpu = parse_nvidia_smi(samples.NVIDIA_SMI_LEGACY, LEGACY_FIELDS)
    assert (tesla.model, tesla.vram, tesla.compute_capability) == ("Tesla T4", 15360 * MIB, "")
    assert (vgpu.vram, vgpu.uuid) == (0, "")


def test_nvidia_smi_query_asks_for_the_documented_fields() -> None:
    assert query_argv() == [
        "nvidia-smi",
        "--query-gpu=index,name,memory.total,pci.bus_id,uuid,compute_cap",
        "--format=csv,noheader,nounits",
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("0, NVIDIA A10, 24564\n", "has 3 fields, expected 6"),
        ("x, NVIDIA A10, 24564, 00000000:C1:00.0, GPU-1, 8.6\n", "index 'x' is not a whole number"),
        ("0, NVIDIA A10, -5, 00000000:C1:00.0, GPU-1, 8.6\n", "memory.total -5 is negative"),
        ("0, NVIDIA A10, 24564, slot-7, GPU-1, 8.6\n", "'slot-7' is not a PCI address"),
    ],
)
def test_nvidia_smi_bad_lines_are_named(text: str, complaint: str) -> None:
    with pytest.raises(ToolOutputInvalid, match=complaint):
        parse_nvidia_smi(text)


def test_nvidia_smi_empty_output_is_no_gpu() -> None:
    assert parse_nvidia_smi("\n") == ()


def test_amd_smi_wrapped_form() -> None:
    (gpu,) = parse_amd_smi(samples.AMD_SMI_MI210)
    assert (gpu.index, gpu.vendor, gpu.model) == (0, "amd", "AMD Instinct MI210")
    assert gpu.vram == 65520 * MIB
    assert gpu.pci_address == "0000:83:00.0"
    assert gpu.uuid == "0xA4C2F9B1D0E3A1B2"


def test_amd_smi_bare_list_form() -> None:
    gpus = parse_amd_smi(samples.AMD_SMI_MI300X_LIST)
    assert [g.index for g in gpus] == [0, 1]
    assert all(g.vram == 196592 * MIB and g.model == "AMD Instinct MI300X" for g in gpus)
    assert gpus[1].pci_address == "0000:26:00.0"


def test_amd_smi_without_bus_or_size_still_lists_the_device() -> None:
    (gpu,) = parse_amd_smi(
        json.dumps([{"gpu": 2, "asic": {"market_name": "AMD Radeon PRO W7800"}}])
    )
    assert (gpu.index, gpu.vram, gpu.pci_address) == (2, 0, "")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("no json here", "printed no JSON"),
        ('{"gpu_data": 3}', "neither a device list"),
        ("[1]", "device 0 is not a JSON object"),
        ('[{"gpu": -1}]', "is not an index"),
        ('[{"gpu": 0, "vram": {"size": {"value": 1, "unit": "parsecs"}}}]', "unknown VRAM unit"),
        ('[{"gpu": 0, "vram": {"size": {"value": "lots", "unit": "MB"}}}]', "is not a number"),
        ("[{", "invalid JSON"),
    ],
)
def test_amd_smi_bad_output_is_named(text: str, complaint: str) -> None:
    with pytest.raises(ToolOutputInvalid, match=complaint):
        parse_amd_smi(text)


def test_rocm_smi_cards_after_a_warning() -> None:
    mi250x, radeon = parse_rocm_smi(samples.ROCM_SMI)
    assert (mi250x.index, mi250x.model) == (0, "AMD INSTINCT MI200 (MCM) OAM LC MBA HPE C2")
    assert mi250x.vram == 68702699520
    assert mi250x.pci_address == "0000:c1:00.0"
    assert (radeon.index, radeon.model, radeon.vram) == (1, "Radeon RX 7900 XT", 21458059264)


def test_rocm_smi_model_falls_back_past_na_series() -> None:
    text = json.dumps(
        {"card3": {"Card Series": "N/A", "Device Name": "Phoenix3", "PCI Bus": "N/A"}}
    )
    (gpu,) = parse_rocm_smi(text)
    assert (gpu.index, gpu.model, gpu.pci_address, gpu.vram) == (3, "Phoenix3", "", 0)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[]", "not an object keyed by card"),
        ('{"card0": 5}', "card0 is not a JSON object"),
        ('{"card0": {"VRAM Total Memory (B)": "16G"}}', "'16G' is not a number of bytes"),
    ],
)
def test_rocm_smi_bad_output_is_named(text: str, complaint: str) -> None:
    with pytest.raises(ToolOutputInvalid, match=complaint):
        parse_rocm_smi(text)


def test_xpu_smi_discovery_and_device_memory() -> None:
    (gpu,) = parse_xpu_discovery(samples.XPU_SMI_DISCOVERY)
    assert (gpu.index, gpu.vendor, gpu.model) == (0, "intel", "Intel(R) Graphics [0x020a]")
    assert gpu.pci_address == "0000:4d:00.0"
    assert gpu.uuid == "00000000-0000-0000-0000-020a00008086"
    assert gpu.vram == 0  # discovery does not say; the details do
    assert parse_xpu_memory(samples.XPU_SMI_DEVICE) == 51522830336


def test_xpu_smi_skips_devices_that_are_not_gpus() -> None:
    text = json.dumps({"device_list": [{"device_id": 0, "device_type": "NPU", "device_name": "x"}]})
    assert parse_xpu_discovery(text) == ()


@pytest.mark.parametrize(
    ("parse", "text", "complaint"),
    [
        (parse_xpu_discovery, "{}", "no 'device_list' list"),
        (parse_xpu_discovery, '{"device_list": ["x"]}', "device 0 is not a JSON object"),
        (parse_xpu_discovery, '{"device_list": [{"device_id": "a"}]}', "is not an index"),
        (parse_xpu_memory, '{"device_id": 0}', "no memory_physical_size_byte"),
        (parse_xpu_memory, '{"memory_physical_size_byte": "48 GiB"}', "not a number of bytes"),
        (parse_xpu_memory, "{", "invalid JSON"),
    ],
)
def test_xpu_smi_bad_output_is_named(parse: object, text: str, complaint: str) -> None:
    assert callable(parse)
    with pytest.raises(ToolOutputInvalid, match=complaint):
        parse(text)


def test_lspci_machine_readable_name() -> None:
    assert parse_lspci_name(samples.LSPCI_MM) == "Alder Lake-P GT2 [Iris Xe Graphics]"
    assert parse_lspci_name("") == ""


@given(
    domain=st.integers(0, 0xFFFF),
    bus=st.integers(0, 0xFF),
    device=st.integers(0, 0x1F),
    function=st.integers(0, 7),
    wide=st.booleans(),
    upper=st.booleans(),
)
def test_every_spelling_of_an_address_normalizes_to_one(
    domain: int, bus: int, device: int, function: int, wide: bool, upper: bool
) -> None:
    spelled = (
        f"{domain:08x}:{bus:02x}:{device:02x}.{function}"
        if wide
        else (f"{domain:04x}:{bus:02x}:{device:02x}.{function}")
    )
    spelled = spelled.upper() if upper else spelled
    assert normalize_pci_address(spelled) == f"{domain:04x}:{bus:02x}:{device:02x}.{function}"


def test_pci_address_without_domain_and_unknowns() -> None:
    assert normalize_pci_address("00:02.0") == "0000:00:02.0"
    assert normalize_pci_address("N/A") == ""
    assert normalize_pci_address(" [N/A] ") == ""
    with pytest.raises(ToolOutputInvalid, match="larger than 0xffff"):
        normalize_pci_address("10000:00:02.0")
