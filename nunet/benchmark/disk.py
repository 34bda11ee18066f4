"""Disk throughput of the reserved share: sequential write and read, random 4 KiB reads.

One file in the work directory, written in 1 MiB blocks with an fsync every 16 MiB (so little
is left to flush when the time is up), then read back past the page cache: with O_DIRECT where
the filesystem allows it, else after posix_fadvise(DONTNEED). The file is always removed.
Blocking: run it in a thread; every phase stops at its own deadline.
"""

from __future__ import annotations

import mmap
import os
import random
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1024 * 1024
PAGE = 4096
MAX_FILE = 256 * 1024 * 1024
SYNC_EVERY = 16 * BLOCK
# Shares of the disk part's time: write, sequential read, random read.
PHASES = (0.4, 0.3, 0.3)


@dataclass(frozen=True, slots=True)
class DiskResult:
    write: float  # bytes per second
    read: float  # bytes per second
    random_iops: float  # 4 KiB reads per second
    notes: tuple[str, ...] = ()


def file_size(reserved: int, free: int) -> int:
    """The test file: a quarter of the reserved disk, half the free space, at most 256 MiB,
    in whole blocks; 0 if not even one block fits."""
    size = min(MAX_FILE, reserved // 4, free // 2)
    return size - size % BLOCK


def measure_disk(workdir: Path, size: int, seconds: float) -> DiskResult:
    path = workdir / f".nunet-benchmark-{os.getpid()}-{secrets.token_hex(4)}"
    start = time.perf_counter()
    write_end = start + seconds * PHASES[0]
    read_end = write_end + seconds * PHASES[1]
    random_end = read_end + seconds * PHASES[2]
    try:
        written, write_rate = _write(path, size, write_end)
        if written == 0:
            return DiskResult(0.0, 0.0, 0.0, ("disk not measured: no block written in time",))
        fd, direct = _open_uncached(path)
        try:
            read_rate = _read(fd, read_end)
            _drop_cache(fd)
            iops = _random_reads(fd, written, random_end)
        finally:
            os.close(fd)
    except OSError as exc:
        return DiskResult(0.0, 0.0, 0.0, (f"disk not measured in {workdir}: {exc}",))
    finally:
        path.unlink(missing_ok=True)
    notes = (
        ()
        if direct
        else (
            f"disk reads in {workdir} may be served partly from the page cache: the filesystem"
            " refuses O_DIRECT",
        )
    )
    return DiskResult(write_rate, read_rate, iops, notes)


def _write(path: Path, size: int, deadline: float) -> tuple[int, float]:
    block = os.urandom(BLOCK)  # incompressible, so a compressing filesystem cannot shortcut
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        written = unsynced = 0
        start = time.perf_counter()
        while written < size and time.perf_counter() < deadline:
            done = os.write(fd, block)
            written += done
            unsynced += done
            if unsynced >= SYNC_EVERY:
                os.fsync(fd)
                unsynced = 0
        os.fsync(fd)
        elapsed = time.perf_counter() - start
        _drop_cache(fd)
    finally:
        os.close(fd)
    whole = written - written % BLOCK
    os.truncate(path, whole)  # reads below stay block-aligned, as O_DIRECT needs
    return whole, (written / elapsed if elapsed > 0 else 0.0)


def _open_uncached(path: Path) -> tuple[int, bool]:
    """A descriptor that reads from the device: (fd, True) with O_DIRECT, else (fd, False)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECT)
        probe = mmap.mmap(-1, PAGE)
        try:
            os.preadv(fd, [probe], 0)
            return fd, True
        except OSError:
            os.close(fd)
        finally:
            probe.close()
    except OSError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    _drop_cache(fd)
    return fd, False


def _read(fd: int, deadline: float) -> float:
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    try:
        total = 0
        start = time.perf_counter()
        while time.perf_counter() < deadline:
            done = os.preadv(fd, [buffer], total)
            if done <= 0:
                break
            total += done
        elapsed = time.perf_counter() - start
    finally:
        buffer.close()
    return total / elapsed if elapsed > 0 else 0.0


def _random_reads(fd: int, size: int, deadline: float) -> float:
    pages = size // PAGE
    choose = random.Random(0x5EED).randrange
    buffer = mmap.mmap(-1, PAGE)
    try:
        reads = 0
        start = time.perf_counter()
        while time.perf_counter() < deadline:
            os.preadv(fd, [buffer], choose(pages) * PAGE)
            reads += 1
        elapsed = time.perf_counter() - start
    finally:
        buffer.close()
    return reads / elapsed if elapsed > 0 else 0.0


def _drop_cache(fd: int) -> None:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
