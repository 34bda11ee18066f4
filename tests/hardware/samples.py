"""Real-format output of each GPU tool, with where each format comes from.

No GPU and none of these tools are on the test machines, so the parsers are tested on output
in the tools' documented or publicly captured formats (values from the sources named).
"""

# nvidia-smi --query-gpu=index,name,memory.total,pci.bus_id,uuid,compute_cap
#            --format=csv,noheader,nounits
# Format: nvidia-smi(1) "--query-gpu" / "--format=csv,noheader,nounits" (one line per GPU,
# ", "-separated, memory in MiB, PCI bus id with an 8-digit domain). Name and memory are what an
# H100 80GB HBM3 (SXM) reports (81559 MiB); bus ids and UUIDs are illustrative, in their format.
NVIDIA_SMI_H100 = """\
0, NVIDIA H100 80GB HBM3, 81559, 00000000:19:00.0, GPU-2b5a5b4e-9a1c-4b8e-8f1e-0c6d5e4f3a21, 9.0
1, NVIDIA H100 80GB HBM3, 81559, 00000000:3B:00.0, GPU-2b5a5b4e-9a1c-4b8e-8f1e-0c6d5e4f3a22, 9.0
2, NVIDIA H100 80GB HBM3, 81559, 00000000:4C:00.0, GPU-2b5a5b4e-9a1c-4b8e-8f1e-0c6d5e4f3a23, 9.0
3, NVIDIA H100 80GB HBM3, 81559, 00000000:5D:00.0, GPU-2b5a5b4e-9a1c-4b8e-8f1e-0c6d5e4f3a24, 9.0
"""
# The same query without compute_cap, as drivers before 510 need it; a vGPU reporting [N/A].
NVIDIA_SMI_LEGACY = """\
0, Tesla T4, 15360, 00000000:00:1E.0, GPU-6f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f
1, GRID A100D-40C, [N/A], 00000000:00:1F.0, [N/A]
"""

# amd-smi static --asic --vram --bus --json, ROCm 6.4 and later (wrapped in "gpu_data").
# Format and values: an MI210 as captured in a public test fixture of a Go project parsing
# amd-smi (asic/bus/vram sections; "size" in MB, which amd-smi means as MiB), shortened to the
# sections asked for. That capture has no "bdf" and no "asic_serial"; both are added here in the
# form amd-smi prints them (bus.bdf, asic.asic_serial), with illustrative values.
AMD_SMI_MI210 = """\
{
    "gpu_data": [
        {
            "gpu": 0,
            "asic": {
                "market_name": "AMD Instinct MI210",
                "vendor_id": "0x1002",
                "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
                "subvendor_id": "0x1002",
                "device_id": "0x740f",
                "subsystem_id": "0x0c34",
                "rev_id": "0x02",
                "asic_serial": "0xA4C2F9B1D0E3A1B2",
                "oam_id": "N/A",
                "num_compute_units": 104,
                "target_graphics_version": "gfx90a"
            },
            "bus": {
                "bdf": "0000:83:00.0",
                "max_pcie_width": 16,
                "max_pcie_speed": {"value": 16, "unit": "GT/s"},
                "pcie_interface_version": "Gen 4",
                "slot_type": "OAM"
            },
            "vram": {
                "type": "HBM",
                "vendor": "HYNIX",
                "size": {"value": 65520, "unit": "MB"},
                "bit_width": 4096,
                "max_bandwidth": {"value": "N/A", "unit": "GB/s"}
            }
        }
    ]
}
"""
# Older amd-smi (ROCm 6.0-6.3) prints the device list bare; MI300X names and sizes (196592 MB)
# as in public fixtures of projects parsing amd-smi; bdf and serials illustrative.
AMD_SMI_MI300X_LIST = """\
[
    {"gpu": 0, "asic": {"market_name": "AMD Instinct MI300X", "asic_serial": "0x6F1F0A2B3C4D5E6F"},
     "bus": {"bdf": "0000:05:00.0"}, "vram": {"type": "HBM3", "size": {"value": 196592, "unit": "MB"}}},
    {"gpu": 1, "asic": {"market_name": "AMD Instinct MI300X", "asic_serial": "0x6F1F0A2B3C4D5E70"},
     "bus": {"bdf": "0000:26:00.0"}, "vram": {"type": "HBM3", "size": {"value": 196592, "unit": "MB"}}}
]
"""

# rocm-smi --showproductname --showmeminfo vram --showbus --json (ROCm 5.x/6.x): one object per
# "cardN". Product fields as in ROCm/rocm_smi_lib issue #159 (an MI250X reporting its series),
# VRAM keys as in rocm_smi_lib PR #120 and marimo issue #9237, "PCI Bus" as in
# systeminformation PR #960 (upper-case hex), preceded by the warning rocm-smi may print.
ROCM_SMI = """\
WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/runtime_status

{
  "card0": {
    "Card Series": "AMD INSTINCT MI200 (MCM) OAM LC MBA HPE C2",
    "Card Model": "0x7408",
    "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
    "Card SKU": "D65201",
    "Subsystem ID": "0x0b0c",
    "Device Rev": "0x00",
    "Node ID": "7",
    "GUID": "58294",
    "GFX Version": "gfx9010",
    "VRAM Total Memory (B)": "68702699520",
    "VRAM Total Used Memory (B)": "10960896",
    "PCI Bus": "0000:C1:00.0"
  },
  "card1": {
    "Card Series": "Radeon RX 7900 XT",
    "Card Model": "0x744c",
    "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
    "Card SKU": "D70401XT",
    "VRAM Total Memory (B)": "21458059264",
    "VRAM Total Used Memory (B)": "27856896",
    "PCI Bus": "0000:03:00.0"
  },
  "system": {
    "Driver version": "6.7.0"
  }
}
"""

# xpu-smi discovery -j: Intel's XPU Manager SMI user guide (intel/xpumanager,
# doc/smi_user_guide.md, "Discover the devices in this machine and get the JSON format output").
XPU_SMI_DISCOVERY = """\
{
    "device_list": [
        {
            "device_id": 0,
            "device_name": "Intel(R) Graphics [0x020a]",
            "device_type": "GPU",
            "pci_bdf_address": "0000:4d:00.0",
            "pci_device_id": "0x20a",
            "uuid": "00000000-0000-0000-0000-020a00008086",
            "vendor_name": "Intel(R) Corporation"
        }
    ]
}
"""
# xpu-smi discovery -d 0 -j: a Data Center GPU Max 1100's details as captured in a public test
# fixture (every value a string), shortened.
XPU_SMI_DEVICE = """\
{
    "device_id": 0,
    "device_name": "Intel(R) Data Center GPU Max 1100",
    "device_type": "GPU",
    "driver_version": "I915_23.10.72_PSB_231129.76",
    "drm_device": "/dev/dri/card1",
    "max_mem_alloc_size_byte": "48946688000",
    "memory_bus_width": "128",
    "memory_ecc_state": "enabled",
    "memory_free_size_byte": "51493543936",
    "memory_physical_size_byte": "51522830336",
    "number_of_tiles": "1",
    "pci_bdf_address": "0000:29:00.0",
    "uuid": "00000000-0000-0029-0000-002f0bda8086",
    "vendor_name": "Intel(R) Corporation"
}
"""

# lspci -mm -s 0000:00:02.0 (pciutils' machine-readable format, lspci(8) "-mm").
LSPCI_MM = '00:02.0 "VGA compatible controller" "Intel Corporation" "Alder Lake-P GT2 [Iris Xe Graphics]" -r0c "Lenovo" "Device 22e4"\n'

# /proc/cpuinfo of this project's test machine (2 vCPUs of an AMD EPYC under KVM), one record
# per processor, flags shortened.
CPUINFO_EPYC = """\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
cpu MHz\t\t: 2596.132
cache size\t: 1024 KB
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 2
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
cpu MHz\t\t: 2596.132
cache size\t: 1024 KB
physical id\t: 0
siblings\t: 2
core id\t\t: 1
cpu cores\t: 2
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep

"""
# A two-thread-per-core Intel: four logical CPUs on two cores.
CPUINFO_XEON_HT = "\n\n".join(
    f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
    f"cpu MHz\t\t: {2000 + n * 100}.000\nphysical id\t: 0\ncore id\t\t: {n % 2}"
    for n in range(4)
)
# /proc/cpuinfo on arm64 in the format of an AWS Graviton2 (Neoverse-N1): no vendor or model
# name, no topology, the CPU named by its implementer and part numbers.
CPUINFO_GRAVITON2 = "\n\n".join(
    f"processor\t: {n}\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1"
    for n in range(2)
)

# /proc/meminfo, head (kernel 6.x format).
MEMINFO = """\
MemTotal:       24684096 kB
MemFree:        24268512 kB
MemAvailable:   24301500 kB
Buffers:           12000 kB
Cached:           290000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""
