"""Streaming transfers that never present a partial file: the verified atomic writer, and the
chunked, hashed reading of a file being uploaded.

`AtomicFile` writes one arriving object to a temporary file beside its target (so the final
rename stays on one filesystem), hashes every byte as it is written, holds the object to its size
limit, reports progress, and on `commit()` verifies the expected checksum, fsyncs and renames the
file into place. Leaving the `async with` block without a commit — an error, a cut connection, a
cancellation — removes the temporary file: the target is either the old file or the new one,
whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from nunet.storage.provider import (
    Checksum,
    ChecksumMismatch,
    ObjectInfo,
    Progress,
    ProgressCallback,
    StorageError,
    TooLarge,
)

CHUNK_BYTES = 1 << 20
"""How much a transfer reads or writes at a time: large enough to keep the thread hops rare,
small enough that many transfers at once hold little memory."""

TEMP_SUFFIX = ".partial"


class Digests:
    """sha256 of everything seen (what we record), and the expected checksum's algorithm if
    it is another one."""

    def __init__(self, expected: Checksum | None = None) -> None:
        self.expected = expected
        self._sha256 = hashlib.sha256()
        self._other = (
            hashlib.new(expected.algorithm)
            if expected is not None and expected.algorithm != "sha256"
            else None
        )

    def update(self, chunk: bytes | memoryview) -> None:
        self._sha256.update(chunk)
        if self._other is not None:
            self._other.update(chunk)

    @property
    def sha256(self) -> Checksum:
        return Checksum("sha256", self._sha256.hexdigest())

    @property
    def actual(self) -> Checksum:
        """The digest in the expected checksum's algorithm (sha256 when none is expected)."""
        if self._other is not None and self.expected is not None:
            return Checksum(self.expected.algorithm, self._other.hexdigest())
        return self.sha256

    def verify(self, location: str) -> None:
        """Raise ChecksumMismatch unless what was seen matches the expected checksum."""
        if self.expected is not None and self.actual != self.expected:
            raise ChecksumMismatch(
                f"{location}: expected {self.expected}, got {self.actual}; "
                "the data changed at the source or on the way"
            )


class ProgressMeter:
    """Reports `Progress` that only ever moves forward and ends at the total."""

    def __init__(self, location: str, callback: ProgressCallback | None, total: int = 0) -> None:
        self.location = location
        self.total = total
        self._callback = callback
        self._last: tuple[int, int] | None = None

    def report(self, done: int) -> None:
        if self._callback is None:
            return
        if self._last is not None and done < self._last[0]:
            return  # a transfer that restarted: say nothing until it is past where it was
        if self._last == (done, self.total):
            return
        self._last = (done, self.total)
        self._callback(Progress(self.location, done, self.total))

    def finish(self, done: int) -> None:
        self.total = done
        self.report(done)


class AtomicFile:
    """One download to `target`, renamed into place only once complete and verified.

    Use as `async with AtomicFile(...) as out: await out.write(chunk) ...; info = await
    out.commit()`."""

    def __init__(
        self,
        target: Path,
        *,
        location: str,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
        label: str | None = None,
    ) -> None:
        self.target = target
        self.location = location
        self.label = label or location  # the location as messages name it
        self.checksum = checksum
        self.max_bytes = max_bytes
        self.done = 0
        self._digests = Digests(checksum)
        self._meter = ProgressMeter(location, progress)
        self._file: IO[bytes] | None = None
        self._temp: Path | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self._open)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._committed:
            await asyncio.shield(asyncio.to_thread(self._discard))

    @property
    def total(self) -> int:
        return self._meter.total

    def expect(self, total: int) -> None:
        """The object's size, once known: refused at once when over the limit."""
        self._check_limit(total)
        self._meter.total = total

    async def write(self, chunk: bytes | memoryview) -> None:
        if not chunk:
            return
        self._check_limit(self.done + len(chunk))
        await asyncio.to_thread(self._write, chunk)
        self.done += len(chunk)
        self._meter.report(self.done)

    async def restart(self) -> None:
        """Start again from the first byte (the source could not resume where it was cut)."""
        await asyncio.to_thread(self._truncate)
        self.done = 0
        self._digests = Digests(self.checksum)

    async def commit(self) -> ObjectInfo:
        """Verify, flush to disk and rename into place; the object as it was written."""
        self._digests.verify(self.label)
        await asyncio.to_thread(self._publish)
        self._committed = True
        self._meter.finish(self.done)
        return ObjectInfo(self.location, self.done, self._digests.sha256)

    def _check_limit(self, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise TooLarge(
                f"{self.label} is larger than the limit of {self.max_bytes} bytes "
                f"({size} bytes or more); raise the limit or choose a smaller object"
            )

    def _open(self) -> None:
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            if self.target.is_dir():
                raise StorageError(f"{self.label}: the target {self.target} is a directory")
            fd, name = tempfile.mkstemp(
                prefix=f".{self.target.name}.", suffix=TEMP_SUFFIX, dir=self.target.parent
            )
        except OSError as error:
            raise StorageError(f"{self.label}: cannot write {self.target}: {error}") from error
        self._temp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def _write(self, chunk: bytes | memoryview) -> None:
        assert self._file is not None
        self._digests.update(chunk)
        try:
            self._file.write(chunk)
        except OSError as error:
            raise StorageError(f"{self.label}: writing {self.target} failed: {error}") from error

    def _truncate(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()

    def _publish(self) -> None:
        assert self._file is not None
        assert self._temp is not None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._temp, 0o644)
            os.replace(self._temp, self.target)
            _fsync_directory(self.target.parent)
        except OSError as error:
            raise StorageError(f"{self.label}: writing {self.target} failed: {error}") from error

    def _discard(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def read_chunks(
    path: Path, *, chunk_bytes: int = CHUNK_BYTES, offset: int = 0, length: int | None = None
) -> AsyncIterator[bytes]:
    """The file's bytes from `offset` (at most `length` of them), `chunk_bytes` at a time, read
    in a worker thread so the event loop never waits on the disk."""
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except OSError as error:
        raise StorageError(f"cannot read {path}: {error}") from error
    try:
        if offset:
            await asyncio.to_thread(handle.seek, offset)
        left = length
        while left is None or left > 0:
            size = chunk_bytes if left is None else min(chunk_bytes, left)
            chunk = await asyncio.to_thread(handle.read, size)
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def file_checksum(path: Path, algorithm: str = "sha256") -> Checksum:
    """The checksum of a file, computed in a worker thread."""

    def digest() -> Checksum:
        hasher = hashlib.new(algorithm)
        try:
            with path.open("rb") as f:
                while block := f.read(CHUNK_BYTES):
                    hasher.update(block)
        except OSError as error:
            raise StorageError(f"cannot read {path}: {error}") from error
        return Checksum(algorithm, hasher.hexdigest())

    return await asyncio.to_thread(digest)
