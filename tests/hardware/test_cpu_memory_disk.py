"""CPU, RAM and disk detection: on this machine against independent sources, and the pure
parsers on captured /proc and /sys formats."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.hardware import (
    HardwareDetectionError,
    detect_cpu,
    detect_disk,
    detect_memory,
    parse_cpuinfo,
    parse_meminfo,
)
from tests.hardware import samples


def lscpu() -> dict[str, str]:
    tool = shutil.which("lscpu")
    assert tool, "lscpu (util-linux) is part of every Debian system"
    out = subprocess.run([tool], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def test_cpu_on_this_machine_agrees_with_os_nproc_and_lscpu() -> None:
    cpu = detect_cpu()
    told = lscpu()
    assert cpu.threads == os.cpu_count() == int(told["CPU(s)"])
    nproc = subprocess.run(["nproc", "--all"], capture_output=True, text=True, check=True)
    assert cpu.threads == int(nproc.stdout)
    assert cpu.cores == int(told["Core(s) per socket"]) * int(told["Socket(s)"])
    assert cpu.architecture == platform.machine() == told["Architecture"]
    assert cpu.model == told.get("Model name", "")
    assert cpu.vendor == told.get("Vendor ID", "")
    assert cpu.clock_mhz > 0


def test_cpuinfo_of_this_machine_format() -> None:
    facts = parse_cpuinfo(samples.CPUINFO_EPYC)
    assert (facts.vendor, facts.model, facts.processors, facts.cores, facts.mhz) == (
        "AuthenticAMD",
        "AMD EPYC",
        2,
        2,
        2596,
    )


def test_hyperthreads_count_as_threads_not_cores() -> None:
    facts = parse_cpuinfo(samples.CPUINFO_XEON_HT)
    assert (facts.processors, facts.cores, facts.mhz) == (4, 2, 2300)
    assert facts.model == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"


def test_arm_cpuinfo_names_implementer_and_part() -> None:
    facts = parse_cpuinfo(samples.CPUINFO_GRAVITON2)
    assert (facts.vendor, facts.model, facts.processors, facts.cores) == (
        "ARM",
        "Neoverse-N1",
        2,
        0,
    )
    unknown = samples.CPUINFO_GRAVITON2.replace("0x41", "0xc0").replace("0xd0c", "0xac3")
    assert parse_cpuinfo(unknown).model == "Ampere part 0xac3"


@given(
    layout=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 63)), min_size=1, max_size=64),
    mhz=st.lists(st.floats(100, 6000), min_size=64, max_size=64),
)
def test_cores_are_distinct_package_core_pairs(
    layout: list[tuple[int, int]], mhz: list[float]
) -> None:
    text = "\n\n".join(
        f"processor\t: {n}\nphysical id\t: {package}\ncore id\t\t: {core}\ncpu MHz\t\t: {mhz[n]:.3f}"
        for n, (package, core) in enumerate(layout)
    )
    facts = parse_cpuinfo(text)
    assert facts.processors == len(layout)
    assert facts.cores == len(set(layout))
    assert facts.mhz == max(round(float(f"{m:.3f}")) for m in mhz[: len(layout)])


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_sysfs_gives_cores_and_max_clock_where_cpuinfo_does_not(tmp_path: Path) -> None:
    proc, sys = tmp_path / "proc", tmp_path / "sys"
    write(proc / "cpuinfo", samples.CPUINFO_GRAVITON2)
    cpus = sys / "devices" / "system" / "cpu"
    for n, (package, core, khz) in enumerate([(0, 0, "2500000"), (0, 1, "3000000")]):
        write(cpus / f"cpu{n}" / "topology" / "physical_package_id", f"{package}\n")
        write(cpus / f"cpu{n}" / "topology" / "core_id", f"{core}\n")
        write(cpus / f"cpu{n}" / "cpufreq" / "cpuinfo_max_freq", f"{khz}\n")
    write(cpus / "cpufreq" / "policy0", "")  # not a cpuN directory: ignored
    cpu = detect_cpu(proc=proc, sys=sys)
    assert (cpu.threads, cpu.cores, cpu.clock_mhz, cpu.model) == (2, 2, 3000, "Neoverse-N1")


def test_without_cpuinfo_threads_come_from_the_os(tmp_path: Path) -> None:
    cpu = detect_cpu(proc=tmp_path, sys=tmp_path)
    assert cpu.threads == os.cpu_count()
    assert cpu.cores == cpu.threads
    assert (cpu.model, cpu.clock_mhz) == ("", 0)


def test_memory_on_this_machine_agrees_with_sysconf() -> None:
    total, available = detect_memory()
    assert total == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < available <= total


def test_meminfo_sample_and_old_kernels() -> None:
    assert parse_meminfo(samples.MEMINFO) == (24684096 * 1024, 24301500 * 1024)
    old = samples.MEMINFO.replace("MemAvailable:   24301500 kB\n", "")
    assert parse_meminfo(old) == (24684096 * 1024, (24268512 + 12000 + 290000) * 1024)


def test_meminfo_without_total_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HardwareDetectionError, match="no MemTotal"):
        parse_meminfo("MemFree: 1 kB\n")
    with pytest.raises(HardwareDetectionError, match="cannot read"):
        detect_memory(proc=tmp_path)


def test_disk_agrees_with_df(tmp_path: Path) -> None:
    total, free = detect_disk(tmp_path)
    out = subprocess.run(
        ["df", "-B1", "--output=size,avail", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert total == int(out[-2])
    assert abs(free - int(out[-1])) <= max(total // 100, 1)  # others write meanwhile


def test_disk_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(HardwareDetectionError, match=r"missing does not exist: create"):
        detect_disk(tmp_path / "missing")
