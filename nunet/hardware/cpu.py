"""The processor: vendor, model, architecture, physical cores, logical CPUs, highest clock.

Read from /proc/cpuinfo and /sys/devices/system/cpu; `parse_cpuinfo` is pure. The roots are
parameters so a test can point them at a captured tree.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from nunet.capability.model import CpuInfo
from nunet.hardware.pci import short

# /proc/cpuinfo on Arm names the designer by a number (the MIDR implementer field).
ARM_IMPLEMENTERS = {
    0x41: "ARM",
    0x42: "Broadcom",
    0x43: "Cavium",
    0x46: "Fujitsu",
    0x48: "HiSilicon",
    0x4E: "NVIDIA",
    0x50: "APM",
    0x51: "Qualcomm",
    0x53: "Samsung",
    0x61: "Apple",
    0xC0: "Ampere",
}
# Parts by Arm Ltd. (implementer 0x41) seen in servers and boards.
ARM_PARTS = {
    0xD03: "Cortex-A53",
    0xD05: "Cortex-A55",
    0xD07: "Cortex-A57",
    0xD08: "Cortex-A72",
    0xD0B: "Cortex-A76",
    0xD0C: "Neoverse-N1",
    0xD40: "Neoverse-V1",
    0xD41: "Cortex-A78",
    0xD49: "Neoverse-N2",
    0xD4F: "Neoverse-V2",
}
_CPU_DIR = re.compile(r"cpu[0-9]+")


@dataclass(frozen=True, slots=True)
class CpuinfoFacts:
    """What /proc/cpuinfo says; zero or empty where it says nothing."""

    vendor: str
    model: str
    processors: int  # logical CPUs listed
    cores: int  # distinct (physical id, core id) pairs; 0 when cpuinfo has no topology
    mhz: int  # the highest current "cpu MHz" of any CPU


def parse_cpuinfo(text: str) -> CpuinfoFacts:
    records = [_record(block) for block in re.split(r"\n\s*\n", text) if block.strip()]
    processors = [r for r in records if "processor" in r and r["processor"].isdigit()]
    merged: dict[str, str] = {}
    for record in records:
        for key, value in record.items():
            merged.setdefault(key, value)
    vendor, model = _identity(merged)
    pairs = {
        (r["physical id"], r["core id"])
        for r in processors
        if "physical id" in r and "core id" in r
    }
    mhz = 0
    for record in processors:
        try:
            mhz = max(mhz, round(float(record.get("cpu mhz", "0"))))
        except ValueError:
            continue
    return CpuinfoFacts(
        vendor=vendor, model=model, processors=len(processors), cores=len(pairs), mhz=mhz
    )


def detect_cpu(*, proc: Path = Path("/proc"), sys: Path = Path("/sys")) -> CpuInfo:
    """The machine's processor. Blocking (file reads): call it off the event loop."""
    try:
        facts = parse_cpuinfo((proc / "cpuinfo").read_text(errors="replace"))
    except OSError:
        facts = CpuinfoFacts(vendor="", model="", processors=0, cores=0, mhz=0)
    cpus = sys / "devices" / "system" / "cpu"
    threads = facts.processors or os.cpu_count() or 0
    cores = facts.cores or sysfs_core_count(cpus) or threads
    clock = sysfs_max_clock_mhz(cpus) or facts.mhz
    return CpuInfo(
        vendor=short(facts.vendor),
        model=short(facts.model),
        architecture=short(platform.machine()),
        cores=cores,
        threads=threads,
        clock_mhz=clock,
    )


def sysfs_core_count(cpus: Path) -> int:
    """Distinct (package, core) pairs in /sys/devices/system/cpu/cpu*/topology; 0 if none."""
    pairs: set[tuple[str, str]] = set()
    for cpu in _cpu_dirs(cpus):
        try:
            package = (cpu / "topology" / "physical_package_id").read_text().strip()
            core = (cpu / "topology" / "core_id").read_text().strip()
        except OSError:
            continue
        pairs.add((package, core))
    return len(pairs)


def sysfs_max_clock_mhz(cpus: Path) -> int:
    """The highest cpufreq/cpuinfo_max_freq (kHz) of any CPU, in MHz; 0 without cpufreq."""
    highest = 0
    for cpu in _cpu_dirs(cpus):
        try:
            khz = int((cpu / "cpufreq" / "cpuinfo_max_freq").read_text().strip())
        except (OSError, ValueError):
            continue
        highest = max(highest, khz)
    return round(highest / 1000)


def _cpu_dirs(cpus: Path) -> list[Path]:
    try:
        return [p for p in cpus.iterdir() if _CPU_DIR.fullmatch(p.name)]
    except OSError:
        return []


def _record(block: str) -> dict[str, str]:
    record: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            record.setdefault(key.strip().lower(), value.strip())
    return record


def _identity(info: dict[str, str]) -> tuple[str, str]:
    """(vendor, model) from whichever keys this architecture's cpuinfo uses."""
    vendor = info.get("vendor_id", "")
    model = info.get("model name", "") or info.get("cpu model", "")
    implementer = _hex(info.get("cpu implementer", ""))
    if implementer is not None:
        vendor = vendor or ARM_IMPLEMENTERS.get(implementer, f"Arm implementer {implementer:#x}")
        part = _hex(info.get("cpu part", ""))
        if not model and part is not None:
            known = ARM_PARTS.get(part) if implementer == 0x41 else None
            model = known or f"{vendor} part {part:#05x}"
    if not model and "cpu" in info:  # POWER: "cpu : POWER9 (raw), altivec supported"
        model = info["cpu"].split(",")[0]
    return vendor, model


def _hex(text: str) -> int | None:
    try:
        return int(text, 16)
    except ValueError:
        return None
