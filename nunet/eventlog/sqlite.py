"""The embedded event log: one SQLite file in WAL mode, written by one thread with group commit.

Callers on the event loop encode their event and put it on a queue; the writer thread takes
everything queued, seals it into the chain, inserts it in one transaction (one fsync), and
resolves the whole batch's futures with a single loop.call_soon_threadsafe. While it waits on
the fsync (GIL released) the loop keeps queueing, so the next batch grows with the load.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nunet.eventlog import sqlite_store
from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.eventlog.errors import LogClosed, LogIsReadOnly, LogLocked, WriteFailed
from nunet.eventlog.event import EncodedEvent, Event, EventEncoder, EventRecord
from nunet.eventlog.feed import LiveFeed
from nunet.eventlog.log import EventLog
from nunet.eventlog.reading import read_pages, tail_records

# A queued submission: one encoded event, or a list of them (append_many), with its future.
_Submission = tuple[EncodedEvent | list[EncodedEvent], "asyncio.Future[Any]"]
_STOP = object()


async def open_sqlite_log(
    path: Path, *, read_only: bool = False, poll_interval: float = 0.2
) -> SQLiteEventLog:
    """Open (creating if needed) the log at `path`.

    read_only=True opens a view that another process may be writing (the CLI while the node
    runs): appends raise LogIsReadOnly and tail() polls the file every poll_interval seconds.
    """
    log = SQLiteEventLog(Path(path), read_only, poll_interval)
    try:
        await log._start()
    except BaseException:
        await log.close()
        raise
    return log


class SQLiteEventLog(EventLog):
    """An EventLog in one SQLite file. Construct it with open_sqlite_log."""

    def __init__(self, path: Path, read_only: bool, poll_interval: float) -> None:
        self.path = path
        self.read_only = read_only
        self._poll_interval = poll_interval
        self._loop = asyncio.get_running_loop()
        self._encoder = EventEncoder()
        self._feed = LiveFeed()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"eventlog-read:{path.name}")
        self._read_conn: sqlite3.Connection | None = None
        self._writer: threading.Thread | None = None
        self._writer_done: asyncio.Future[None] = self._loop.create_future()
        self._lock_fd: int | None = None
        self._head: tuple[int, bytes] = (0, ZERO_HASH)
        self._closing = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if not self.read_only:
            self._lock_fd = _lock_exclusively(self.path)
            started: asyncio.Future[None] = self._loop.create_future()
            self._writer = threading.Thread(
                target=self._write_loop,
                args=(started,),
                name=f"eventlog-write:{self.path.name}",
                daemon=True,
            )
            self._writer.start()
            await started
        self._read_conn = await self._on_reader(sqlite_store.connect_reader, self.path)

    async def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._closed = True
        self._feed.close()
        # The reader goes first so that the writer's connection is the last one: closing it
        # checkpoints the WAL into the database file and removes the WAL.
        if self._read_conn is not None:
            conn, self._read_conn = self._read_conn, None
            await self._loop.run_in_executor(self._reader, conn.close)
        self._reader.shutdown(wait=False)
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(_STOP)
            await asyncio.shield(self._writer_done)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    # -- appending ---------------------------------------------------------------------------

    def append_nowait(self, event: Event, *, actor: str = "") -> asyncio.Future[EventRecord]:
        self._check_writable()
        encoded = self._encoder.encode(event, actor)
        future: asyncio.Future[EventRecord] = self._loop.create_future()
        self._queue.put((encoded, future))
        return future

    async def append(self, event: Event, *, actor: str = "") -> EventRecord:
        return await self.append_nowait(event, actor=actor)

    async def append_many(self, events: Sequence[Event], *, actor: str = "") -> list[EventRecord]:
        self._check_writable()
        if not events:
            return []
        encode = self._encoder.encode
        batch = [encode(event, actor) for event in events]
        future: asyncio.Future[list[EventRecord]] = self._loop.create_future()
        self._queue.put((batch, future))
        return await future

    async def head(self) -> tuple[int, bytes]:
        self._check_open()
        if not self.read_only:
            return self._head
        last: EventRecord | None = await self._on_reader(sqlite_store.read_last, self._read_conn)
        return (0, ZERO_HASH) if last is None else (last.seq, last.hash)

    def _check_writable(self) -> None:
        if self.read_only:
            raise LogIsReadOnly(f"{self.path} is open read-only")
        if self._closing:
            raise LogClosed(f"{self.path} is closed")

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosed(f"{self.path} is closed")

    # -- the writer thread -------------------------------------------------------------------

    def _write_loop(self, started: asyncio.Future[None]) -> None:
        call = self._loop.call_soon_threadsafe
        try:
            conn = sqlite_store.connect_writer(self.path)
            head_seq, head_hash, last_ts = sqlite_store.load_head(conn, self.path)
        except BaseException as exc:
            call(_settle, started, exc)
            call(_settle, self._writer_done, None)
            return
        self._head = (head_seq, head_hash)
        call(_settle, started, None)
        get, get_nowait = self._queue.get, self._queue.get_nowait
        try:
            stop = False
            while not stop:
                batch: list[_Submission] = [get()]
                try:
                    while True:
                        batch.append(get_nowait())
                except queue.Empty:
                    pass
                if batch[-1] is _STOP:  # nothing is queued after _STOP: close() set _closing
                    batch.pop()
                    stop = True
                if not batch:
                    continue
                events: list[EncodedEvent] = []
                for encoded, _ in batch:
                    if type(encoded) is list:
                        events.extend(encoded)
                    else:
                        events.append(encoded)  # type: ignore[arg-type]
                now = time.time_ns()
                stamp = now if now > last_ts else last_ts
                try:
                    records = seal(events, head_seq, head_hash, stamp)
                    sqlite_store.insert_batch(conn, records)
                except Exception as exc:  # nothing of the batch is in the log: say so to each
                    error = WriteFailed(f"{self.path}: batch of {len(events)} not written: {exc}")
                    call(_fail, batch, error)
                    continue
                last_ts = stamp
                head_seq, head_hash = records[-1].seq, records[-1].hash
                self._head = (head_seq, head_hash)
                call(self._deliver, batch, records)
        finally:
            conn.close()
            call(_settle, self._writer_done, None)

    def _deliver(self, batch: list[_Submission], records: list[EventRecord]) -> None:
        """On the loop: resolve each submission's future, then feed the live tails."""
        i = 0
        for encoded, future in batch:
            if type(encoded) is list:
                n = len(encoded)
                result: Any = records[i : i + n]
                i += n
            else:
                result = records[i]
                i += 1
            if not future.done():
                future.set_result(result)
        self._feed.publish(records)

    # -- reading -----------------------------------------------------------------------------

    async def _on_reader(self, fn: Any, *args: Any) -> Any:
        return await self._loop.run_in_executor(self._reader, fn, *args)

    async def _read_page(
        self, from_seq: int, to_seq: int | None, types: Collection[str] | None, limit: int
    ) -> list[EventRecord]:
        self._check_open()
        conn = self._read_conn
        if conn is None:
            raise LogClosed(f"{self.path} is closed")
        try:
            page: list[EventRecord] = await self._on_reader(
                sqlite_store.read_page, conn, from_seq, to_seq, types, limit
            )
        except sqlite3.DatabaseError as exc:
            raise sqlite_store.unreadable(self.path, from_seq, exc) from None
        return page

    def read(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[EventRecord]:
        return read_pages(self._read_page, from_seq, to_seq, types)

    def tail(self, from_seq: int = 1) -> AsyncIterator[EventRecord]:
        feed = None if self.read_only else self._feed
        return tail_records(self._read_page, feed, from_seq, self._poll_interval)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _fail(batch: list[_Submission], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def _lock_exclusively(path: Path) -> int:
    """Hold an flock on `<path>.lock` for as long as the log is open for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogLocked(
            f"{path} is already open for writing (lock {lock_path} is held); "
            "a node's log has one writer — open it read-only to inspect it"
        ) from None
    return fd
