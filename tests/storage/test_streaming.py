"""The verified atomic writer: a target is the old file or the new one whole, never a part;
limits, checksums and progress hold whatever the chunking."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.storage import (
    AtomicFile,
    Checksum,
    ChecksumMismatch,
    Digests,
    Progress,
    ProgressMeter,
    StorageError,
    TooLarge,
    file_checksum,
    read_chunks,
)
from tests.storage.contract import names_in, sha256


async def write_all(atomic: AtomicFile, chunks: list[bytes]) -> None:
    async with atomic as out:
        for chunk in chunks:
            await out.write(chunk)
        await out.commit()


async def test_a_committed_file_appears_whole_with_its_checksum(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "f.bin"
    async with AtomicFile(target, location="s3://abc/f") as out:
        await out.write(b"hello ")
        assert not target.exists()
        await out.write(b"world")
        info = await out.commit()
    assert target.read_bytes() == b"hello world"
    assert (info.location, info.size, info.checksum) == ("s3://abc/f", 11, sha256(b"hello world"))
    assert names_in(target.parent) == ["f.bin"]


@pytest.mark.parametrize("failure", [RuntimeError("boom"), asyncio.CancelledError()])
async def test_leaving_without_commit_removes_the_temporary_and_keeps_the_old_file(
    tmp_path: Path, failure: BaseException
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    beside: list[str] = []

    async def write_then_fail() -> None:
        async with AtomicFile(target, location="x") as out:
            await out.write(b"new and partial")
            beside.extend(names_in(tmp_path))
            raise failure

    with pytest.raises(type(failure)):
        await write_then_fail()
    assert len(beside) == 2  # the temporary sat beside the target
    assert target.read_bytes() == b"old"
    assert names_in(tmp_path) == ["f"]


async def test_a_mismatch_names_both_checksums_and_writes_nothing(tmp_path: Path) -> None:
    expected = Checksum("md5", hashlib.md5(b"expected").hexdigest())
    with pytest.raises(ChecksumMismatch) as raised:
        await write_all(
            AtomicFile(tmp_path / "f", location="s3://abc/f", checksum=expected), [b"arrived"]
        )
    message = str(raised.value)
    assert str(expected) in message
    assert f"md5:{hashlib.md5(b'arrived').hexdigest()}" in message
    assert "s3://abc/f" in message
    assert names_in(tmp_path) == []


async def test_the_limit_is_checked_on_the_announced_size_and_on_every_write(
    tmp_path: Path,
) -> None:
    with pytest.raises(TooLarge, match="limit of 10 bytes"):
        async with AtomicFile(tmp_path / "f", location="x", max_bytes=10) as out:
            out.expect(11)
    with pytest.raises(TooLarge, match="limit of 10 bytes"):
        await write_all(
            AtomicFile(tmp_path / "f", location="x", max_bytes=10), [b"123456", b"78901"]
        )
    assert names_in(tmp_path) == []


async def test_a_restart_forgets_what_was_written_and_progress_does_not_go_back(
    tmp_path: Path,
) -> None:
    reports: list[Progress] = []
    async with AtomicFile(tmp_path / "f", location="x", progress=reports.append) as out:
        out.expect(6)
        await out.write(b"abc")
        await out.restart()
        await out.write(b"ab")
        await out.write(b"cdef")
        info = await out.commit()
    assert (tmp_path / "f").read_bytes() == b"abcdef"
    assert info.checksum == sha256(b"abcdef")
    assert [(p.done, p.total) for p in reports] == [(3, 6), (6, 6)]


async def test_a_target_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(StorageError, match="is a directory"):
        async with AtomicFile(tmp_path / "d", location="x"):
            pass


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=64), max_size=12), limit=st.integers(0, 400))
def test_any_chunking_gives_the_bytes_or_too_large(
    tmp_path: Path, chunks: list[bytes], limit: int
) -> None:
    data = b"".join(chunks)
    target = tmp_path / "h"
    target.unlink(missing_ok=True)
    reports: list[Progress] = []

    async def write() -> None:
        async with AtomicFile(
            target, location="x", max_bytes=limit, checksum=sha256(data), progress=reports.append
        ) as out:
            for chunk in chunks:
                await out.write(chunk)
            await out.commit()

    if len(data) > limit:
        with pytest.raises(TooLarge):
            asyncio.run(write())
        assert not target.exists()
    else:
        asyncio.run(write())
        assert target.read_bytes() == data
        done = [p.done for p in reports]
        assert done == sorted(done)
        assert (reports[-1].done, reports[-1].total) == (len(data), len(data))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_the_progress_meter_reports_each_change_once() -> None:
    seen: list[tuple[int, int]] = []
    meter = ProgressMeter("x", lambda p: seen.append((p.done, p.total)), total=10)
    for done in (0, 4, 4, 2, 10):
        meter.report(done)
    meter.finish(10)
    assert seen == [(0, 10), (4, 10), (10, 10)]


def test_digests_answer_in_the_expected_algorithm() -> None:
    digests = Digests(Checksum("md5", hashlib.md5(b"ab").hexdigest()))
    digests.update(b"a")
    digests.update(memoryview(b"b"))
    assert digests.actual == Checksum("md5", hashlib.md5(b"ab").hexdigest())
    assert digests.sha256 == sha256(b"ab")
    digests.verify("x")


async def test_a_file_is_read_in_chunks_from_an_offset(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(bytes(range(100)))
    chunks = [c async for c in read_chunks(tmp_path / "f", chunk_bytes=30, offset=10, length=65)]
    assert [len(c) for c in chunks] == [30, 30, 5]
    assert b"".join(chunks) == bytes(range(10, 75))
    assert await file_checksum(tmp_path / "f") == sha256(bytes(range(100)))
    with pytest.raises(StorageError, match="missing"):
        _ = [c async for c in read_chunks(tmp_path / "missing")]
