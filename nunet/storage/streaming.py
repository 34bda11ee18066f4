"""Streaming transfers that never present a partial file: the verified atomic writer, and the
chunked, hashed reading of a file being uploaded.

`AtomicFile` writes one arriving object to a temporary file beside its target (so the final
rename stays on one filesystem), hashes every byte, holds the object to its size limit, reports
progress, and on `commit()` verifies the expected checksums, fsyncs and renames the file into
place. Leaving the `async with` block without a commit — an error, a cut connection, a
cancellation — removes the temporary file: the target is either the old file or the new one,
whole.

Given a window (`window_bytes`, e.g. `WINDOW_BYTES`), a large object is hashed and written by
threads of its own while the next bytes arrive: one thread writes each MiB batch at its offset,
one per digest hashes the batches in order (hashlib and `pwritev` let go of the GIL, so they run
beside the event loop and each other), one flushes the written bytes to disk as they pile up
(so the fsync before the rename finds little left to do), and receiving runs at most the window
ahead of them. Without a window, each write waits until its bytes are hashed and written,
holding nothing more.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import errno
import hashlib
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

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

WINDOW_BYTES = 4 * CHUNK_BYTES
"""A window that lets receiving run ahead of hashing and writing enough to keep both busy (on a
loopback S3 download, 4 MiB moves as fast as 8 or 16), holding a few MiB per download."""

SYNC_BYTES = 16 * CHUNK_BYTES
"""How much is written, given a window, before it is flushed to disk while the download goes
on (in a thread of its own: a flush of 16 MiB that held up the writing cost a tenth of a
loopback download's speed)."""

TEMP_SUFFIX = ".partial"
_IOV_MAX = 1024  # the fewest buffers one pwritev takes on Linux and macOS
_datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync

Chunk = bytes | memoryview


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


@dataclasses.dataclass(frozen=True)
class Claim:
    """A checksum the content must have besides the one the caller expects, and who states it
    (for the message when it does not): the ETag of an S3 object, the digest a store kept."""

    checksum: Checksum
    by: str


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


class _Hasher:
    """One algorithm's digest of the bytes so far."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)

    def reset(self) -> None:
        self._hash = hashlib.new(self.algorithm)

    def update(self, pieces: Sequence[Chunk]) -> None:
        for piece in pieces:
            self._hash.update(piece)

    @property
    def checksum(self) -> Checksum:
        return Checksum(self.algorithm, self._hash.hexdigest())


class _Lanes:
    """The threads a large object's batches go through: one writes each batch at its offset,
    one per digest hashes them, and one flushes what was written to disk every `SYNC_BYTES`
    without holding up the writing. Each lane is a single thread, so it takes its jobs in the
    order given — which the digests need."""

    def __init__(
        self,
        hashers: Iterable[_Hasher],
        write: Callable[[Sequence[Chunk], int], None],
        flush: Callable[[], None],
    ) -> None:
        self._write = write
        self._flush = flush
        self._writer = _lane("write")
        self._flusher = _lane("flush")
        self._hashing = [(hasher, _lane(hasher.algorithm)) for hasher in hashers]
        self._batches: collections.deque[tuple[int, asyncio.Future[list[None]]]] = (
            collections.deque()
        )
        self._flushing: asyncio.Future[None] | None = None
        self._unflushed = 0
        self.in_flight = 0  # bytes given to the lanes and not yet both hashed and written

    def submit(self, pieces: Sequence[Chunk], offset: int, size: int) -> None:
        loop = asyncio.get_running_loop()
        work = asyncio.gather(
            loop.run_in_executor(self._writer, self._write, pieces, offset),
            *(loop.run_in_executor(lane, hasher.update, pieces) for hasher, lane in self._hashing),
        )
        work.add_done_callback(_retrieve)  # an abandoned batch's failure is not worth a warning
        self._batches.append((size, work))
        self.in_flight += size
        self._unflushed += size
        if self._unflushed >= SYNC_BYTES and (self._flushing is None or self._flushing.done()):
            if self._flushing is not None:
                self._flushing.result()  # a flush that failed fails the download
            # Flushes what is written by the time it runs; the fsync before the rename does
            # the rest.
            self._flushing = loop.run_in_executor(self._flusher, self._flush)
            self._flushing.add_done_callback(_retrieve)
            self._unflushed = 0

    async def settle(self, limit: int) -> None:
        """Wait until at most `limit` bytes are in flight; a lane's failure is raised here."""
        while self._batches and (self.in_flight > limit or self._batches[0][1].done()):
            size, work = self._batches[0]
            await work
            self._batches.popleft()
            self.in_flight -= size

    async def drain(self) -> None:
        """Wait until every lane is idle: all written, hashed and flushed."""
        await self.settle(0)
        if self._flushing is not None:
            await self._flushing

    def close(self) -> None:
        """Let the work under way finish, drop what has not started, end the threads (blocks:
        call it in a thread)."""
        for pool in (self._writer, self._flusher, *(lane for _, lane in self._hashing)):
            pool.shutdown(wait=True, cancel_futures=True)


def _lane(name: str) -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(1, f"nunet-storage-{name}")


def _retrieve(work: asyncio.Future[Any]) -> None:
    if not work.cancelled():
        work.exception()


class AtomicFile:
    """One download to `target`, renamed into place only once complete and verified against
    `checksum` and every one of `claims`.

    Use as `async with AtomicFile(...) as out: await out.write(chunk) ...; info = await
    out.commit()`. `window_bytes` is how far receiving may run ahead of hashing and writing (0:
    each `write` returns once its bytes are hashed and written). A chunk given to `write` is
    held until written, so it must not change afterwards (a writable buffer is copied). `done`
    counts the bytes given to `write`, and progress follows it."""

    def __init__(
        self,
        target: Path,
        *,
        location: str,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
        label: str | None = None,
        claims: Sequence[Claim] = (),
        window_bytes: int = 0,
    ) -> None:
        self.target = target
        self.location = location
        self.label = label or location  # the location as messages name it
        self.checksum = checksum
        self.claims = tuple(claims)
        self.max_bytes = max_bytes
        self.window_bytes = window_bytes
        self.done = 0
        wanted = [c.checksum for c in self.claims] + ([checksum] if checksum else [])
        self._hashers = {a: _Hasher(a) for a in ("sha256", *(c.algorithm for c in wanted))}
        self._meter = ProgressMeter(location, progress)
        self._pending: list[Chunk] = []  # received, not yet handed to the lanes
        self._pending_bytes = 0
        self._lanes: _Lanes | None = None  # started by the first MiB handed on at once
        self._fd_lock = threading.Lock()
        self._fd: int | None = None
        self._temp: Path | None = None
        self._closed = False
        self._committed = False

    async def __aenter__(self) -> Self:
        try:
            await asyncio.to_thread(self._open)
        except BaseException:  # cancelled or failed: the temporary file, if made, goes
            await asyncio.shield(asyncio.to_thread(self._close, None))
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        lanes, self._lanes = self._lanes, None
        if lanes is not None or not self._committed:
            await asyncio.shield(asyncio.to_thread(self._close, lanes))

    @property
    def total(self) -> int:
        return self._meter.total

    def expect(self, total: int) -> None:
        """The object's size, once known: refused at once when over the limit."""
        self._check_limit(total)
        self._meter.total = total

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if not chunk:
            return
        self._check_limit(self.done + len(chunk))
        held: Chunk
        if isinstance(chunk, bytes) or (isinstance(chunk, memoryview) and chunk.readonly):
            held = chunk
        else:
            held = bytes(chunk)  # a writable buffer the caller may refill once this returns
        self._pending.append(held)
        self._pending_bytes += len(chunk)
        self.done += len(chunk)
        self._meter.report(self.done)
        if self._pending_bytes >= min(CHUNK_BYTES, self.window_bytes):
            await self._hand_on()

    async def restart(self) -> None:
        """Start again from the first byte (the source could not resume where it was cut)."""
        self._take_pending()
        if self._lanes is not None:
            await self._lanes.drain()
        await asyncio.to_thread(self._truncate)
        self.done = 0
        for hasher in self._hashers.values():
            hasher.reset()

    async def commit(self) -> ObjectInfo:
        """Verify, flush to disk and rename into place; the object as it was written."""
        if self._pending:
            await self._hand_on()
        if self._lanes is not None:
            await self._lanes.drain()
        self._verify()
        await asyncio.to_thread(self._publish)
        self._committed = True
        self._meter.finish(self.done)
        return ObjectInfo(self.location, self.done, self._hashers["sha256"].checksum)

    async def _hand_on(self) -> None:
        """Hash and write what was received: in the lanes from the first MiB at once on (then
        waiting only for room in the window), before that in one hop to a worker thread."""
        pieces, offset, size = self._take_pending()
        if self._lanes is None and size < CHUNK_BYTES:
            await asyncio.to_thread(self._hash_and_write, pieces, offset)
            return
        self._lanes = self._lanes or _Lanes(
            self._hashers.values(), self._write_at, self._flush_written
        )
        self._lanes.submit(pieces, offset, size)
        await self._lanes.settle(self.window_bytes)

    def _take_pending(self) -> tuple[list[Chunk], int, int]:
        """The received bytes not yet handed on: (pieces, file offset, size)."""
        pieces, size = self._pending, self._pending_bytes
        self._pending, self._pending_bytes = [], 0
        return pieces, self.done - size, size

    def _check_limit(self, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise TooLarge(
                f"{self.label} is larger than the limit of {self.max_bytes} bytes "
                f"({size} bytes or more); raise the limit or choose a smaller object"
            )

    def _verify(self) -> None:
        if self.checksum is not None:
            actual = self._hashers[self.checksum.algorithm].checksum
            if actual != self.checksum:
                raise ChecksumMismatch(
                    f"{self.label}: expected {self.checksum}, got {actual}; "
                    "the data changed at the source or on the way"
                )
        for claim in self.claims:
            actual = self._hashers[claim.checksum.algorithm].checksum
            if actual != claim.checksum:
                raise ChecksumMismatch(
                    f"{self.label}: {claim.by} says {claim.checksum}, what arrived is {actual}; "
                    "it changed at the source or on the way"
                )

    # --- in worker threads: outside the lanes the descriptor is used by one at a time (the
    # lock), and by none once closed ---

    def _open(self) -> None:
        with self._fd_lock:
            if self._closed:
                return  # given up while waiting for a thread: nothing to create
            try:
                self.target.parent.mkdir(parents=True, exist_ok=True)
                if self.target.is_dir():
                    raise StorageError(f"{self.label}: the target {self.target} is a directory")
                self._fd, name = tempfile.mkstemp(
                    prefix=f".{self.target.name}.", suffix=TEMP_SUFFIX, dir=self.target.parent
                )
            except OSError as error:
                raise StorageError(f"{self.label}: cannot write {self.target}: {error}") from error
            self._temp = Path(name)

    def _hash_and_write(self, pieces: Sequence[Chunk], offset: int) -> None:
        with self._fd_lock:
            for hasher in self._hashers.values():
                hasher.update(pieces)
            self._write_at(pieces, offset)

    # The lanes' jobs take no lock: they are over before the descriptor closes (`_close` ends
    # the lanes first; `restart` and `commit` drain them before they touch it).

    def _write_at(self, pieces: Sequence[Chunk], offset: int) -> None:
        try:
            _pwrite_all(self._open_fd(), pieces, offset)
        except OSError as error:
            raise StorageError(f"{self.label}: writing {self.target} failed: {error}") from error

    def _flush_written(self) -> None:
        try:
            _datasync(self._open_fd())
        except OSError as error:
            raise StorageError(f"{self.label}: writing {self.target} failed: {error}") from error

    def _truncate(self) -> None:
        with self._fd_lock:
            os.ftruncate(self._open_fd(), 0)

    def _publish(self) -> None:
        with self._fd_lock:
            fd, temp = self._open_fd(), self._temp
            assert temp is not None
            try:
                os.fsync(fd)
                self._fd = None
                os.close(fd)
                os.chmod(temp, 0o644)
                os.replace(temp, self.target)
                self._temp = None
                _fsync_directory(self.target.parent)
            except OSError as error:
                raise StorageError(
                    f"{self.label}: writing {self.target} failed: {error}"
                ) from error

    def _close(self, lanes: _Lanes | None) -> None:
        """End the lanes, then close and remove the temporary file unless it was published."""
        if lanes is not None:
            lanes.close()
        with self._fd_lock:
            self._closed = True
            fd, temp, self._fd, self._temp = self._fd, self._temp, None, None
            if fd is not None:
                os.close(fd)
            if temp is not None:
                temp.unlink(missing_ok=True)

    def _open_fd(self) -> int:
        if self._fd is None:
            raise StorageError(f"{self.label}: the temporary file for {self.target} is closed")
        return self._fd


def _pwrite_all(fd: int, pieces: Sequence[Chunk], offset: int) -> None:
    """Write `pieces` one after another from `offset`, however many calls that takes."""
    views = [memoryview(piece) for piece in pieces]
    first, written = 0, 0
    while first < len(views):
        count = os.pwritev(fd, views[first : first + _IOV_MAX], offset + written)
        if count == 0:
            raise OSError(errno.EIO, "the file took no bytes")
        written += count
        while first < len(views) and count >= len(views[first]):
            count -= len(views[first])
            first += 1
        if count:  # a short write ended inside this piece
            views[first] = views[first][count:]


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
