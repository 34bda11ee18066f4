"""The S3 download path's writer: the atomic file with a window, whose threads hash and write the
body while the next bytes arrive. Whatever the pieces, windows, restarts, short writes, failing
disks or cancellations, the target is the old file or the new one whole, verified, and no thread
outlives the file."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import random
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.storage.provider import Checksum, ChecksumMismatch, Progress, StorageError
from nunet.storage.streaming import CHUNK_BYTES, WINDOW_BYTES, AtomicFile, Claim
from tests.storage.contract import MIB, names_in, sha256

WAIT = 10.0  # seconds a test waits for a thread before failing


def content(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def md5_claim(data: bytes) -> Claim:
    return Claim(Checksum("md5", hashlib.md5(data).hexdigest()), "the ETag")


def cut(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """`data` in pieces of the given sizes, round and round, the last one whatever is left."""
    pieces, start, turn = [], 0, 0
    while start < len(data):
        size = sizes[turn % len(sizes)]
        pieces.append(data[start : start + size])
        start, turn = start + size, turn + 1
    return pieces


def lane_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("nunet-storage-")]


async def write_through(
    target: Path,
    pieces: Sequence[bytes | bytearray | memoryview],
    *,
    window: int = WINDOW_BYTES,
    checksum: Checksum | None = None,
    claims: Sequence[Claim] = (),
    progress: Callable[[Progress], None] | None = None,
) -> Checksum | None:
    async with AtomicFile(
        target,
        location="s3://b/k",
        checksum=checksum,
        claims=claims,
        progress=progress,
        window_bytes=window,
    ) as out:
        out.expect(sum(len(p) for p in pieces))
        for piece in pieces:
            await out.write(piece)
        info = await out.commit()
    return info.checksum


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(1, 1_500_000), max_size=10),
    window=st.sampled_from([0, CHUNK_BYTES, WINDOW_BYTES]),
    seed=st.integers(0, 2**32),
)
def test_any_pieces_and_window_give_the_bytes_verified_and_no_thread_left(
    tmp_path: Path, sizes: list[int], window: int, seed: int
) -> None:
    data = content(sum(sizes), seed)
    target = tmp_path / "k"
    target.unlink(missing_ok=True)
    reports: list[Progress] = []
    written = asyncio.run(
        write_through(
            target,
            cut(data, sizes) if sizes else [],
            window=window,
            checksum=sha256(data),
            claims=[md5_claim(data)],
            progress=reports.append,
        )
    )
    assert written == sha256(data)
    assert target.read_bytes() == data
    done = [p.done for p in reports]
    assert done == sorted(done)
    assert not reports or (reports[-1].done, reports[-1].total) == (len(data), len(data))
    assert names_in(tmp_path) == ["k"]
    assert lane_threads() == []


async def test_a_large_object_claimed_by_its_etag_is_refused_when_it_differs(
    tmp_path: Path,
) -> None:
    data = content(12 * MIB, 1)
    (tmp_path / "k").write_bytes(b"old")
    with pytest.raises(ChecksumMismatch, match="the ETag says md5:"):
        await write_through(tmp_path / "k", cut(data, [300_000]), claims=[md5_claim(b"other")])
    assert (tmp_path / "k").read_bytes() == b"old"
    assert names_in(tmp_path) == ["k"]
    assert lane_threads() == []


async def test_a_writable_buffer_refilled_after_each_write_does_not_change_the_file(
    tmp_path: Path,
) -> None:
    buffer = bytearray(2 * MIB)
    expected = hashlib.sha256()
    async with AtomicFile(tmp_path / "k", location="x", window_bytes=WINDOW_BYTES) as out:
        for n in range(6):
            buffer[:] = bytes([n]) * len(buffer)
            expected.update(buffer)
            await out.write(buffer if n % 2 else memoryview(buffer))
        info = await out.commit()
    assert info.checksum == Checksum("sha256", expected.hexdigest())
    assert Checksum("sha256", hashlib.sha256((tmp_path / "k").read_bytes()).hexdigest()) == (
        info.checksum
    )


async def test_a_restart_after_batches_went_to_the_threads_keeps_only_the_new_bytes(
    tmp_path: Path,
) -> None:
    first, second = content(3 * MIB + 5, 2), content(2 * MIB + 7, 3)
    async with AtomicFile(
        tmp_path / "k",
        location="x",
        checksum=sha256(second),
        claims=[md5_claim(second)],
        window_bytes=WINDOW_BYTES,
    ) as out:
        for piece in cut(first, [400_000]):
            await out.write(piece)
        await out.restart()
        assert out.done == 0
        for piece in cut(second, [700_000]):
            await out.write(piece)
        await out.commit()
    assert (tmp_path / "k").read_bytes() == second


async def test_short_writes_and_more_pieces_than_one_call_takes_still_write_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwritev

    def at_most_1000_bytes(fd: int, buffers: Sequence[memoryview], offset: int) -> int:
        taken, left = [], 1000
        for buffer in buffers:
            if left == 0:
                break
            taken.append(buffer[:left])
            left -= len(taken[-1])
        return real(fd, taken, offset)

    monkeypatch.setattr(os, "pwritev", at_most_1000_bytes)
    small = content(3000 * 7, 4)  # 3000 pieces at once: more than one pwritev takes
    assert await write_through(tmp_path / "small", cut(small, [7])) == sha256(small)
    assert (tmp_path / "small").read_bytes() == small
    large = content(3 * MIB, 5)
    assert await write_through(tmp_path / "large", cut(large, [250_000])) == sha256(large)
    assert (tmp_path / "large").read_bytes() == large


async def test_a_disk_that_fills_mid_download_fails_it_naming_the_target_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwritev
    calls = 0

    def full_on_the_third_write(fd: int, buffers: Sequence[memoryview], offset: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", full_on_the_third_write)
    target = tmp_path / "k"
    target.write_bytes(b"old")
    with pytest.raises(StorageError, match="No space left") as raised:
        await write_through(target, cut(content(8 * MIB, 6), [MIB]))
    assert str(target) in str(raised.value)
    assert target.read_bytes() == b"old"
    assert names_in(tmp_path) == ["k"]
    assert lane_threads() == []


class Hold:
    """Holds a worker thread at one call until released: `entered` once it waits there."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def here(self) -> None:
        self.entered.set()
        self.release.wait(WAIT)

    async def cancel_once_held(self, download: asyncio.Task[Any]) -> None:
        """Cancel `download` while the thread is held, let it go, and see it end cancelled."""
        assert await asyncio.to_thread(self.entered.wait, WAIT)
        download.cancel()
        self.release.set()
        with pytest.raises(asyncio.CancelledError):
            await download


@pytest.fixture
def held_hash(monkeypatch: pytest.MonkeyPatch) -> Hold:
    """sha256 (every digest) holding its thread at its first update until released."""
    hold = Hold()
    real = hashlib.new

    class SlowHash:
        def __init__(self, name: str) -> None:
            self._hash = real(name)

        def update(self, data: bytes) -> None:
            hold.here()
            self._hash.update(data)

        def hexdigest(self) -> str:
            return self._hash.hexdigest()

    monkeypatch.setattr(hashlib, "new", SlowHash)
    return hold


async def test_cancelling_while_the_threads_are_busy_waits_for_them_and_leaves_the_old_file(
    tmp_path: Path, held_hash: Hold
) -> None:
    target = tmp_path / "k"
    target.write_bytes(b"old")
    download = asyncio.create_task(write_through(target, cut(content(16 * MIB, 7), [MIB])))
    await held_hash.cancel_once_held(download)
    assert target.read_bytes() == b"old"
    assert names_in(tmp_path) == ["k"]
    assert lane_threads() == []


async def test_cancelling_while_the_temporary_is_created_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold()
    real = tempfile.mkstemp

    def slow_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        hold.here()
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", slow_mkstemp)
    download = asyncio.create_task(write_through(tmp_path / "k", [b"data"]))
    await hold.cancel_once_held(download)
    assert names_in(tmp_path) == []


async def test_cancelling_while_a_small_object_is_hashed_waits_for_it_and_keeps_the_old_file(
    tmp_path: Path, held_hash: Hold
) -> None:
    target = tmp_path / "k"
    target.write_bytes(b"old")
    download = asyncio.create_task(write_through(target, [b"small and new"]))
    await held_hash.cancel_once_held(download)
    assert target.read_bytes() == b"old"
    assert names_in(tmp_path) == ["k"]
