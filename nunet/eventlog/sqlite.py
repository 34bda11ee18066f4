"""The embedded event log: one SQLite file in WAL mode, written by a writer process.

The event loop encodes each event, seals everything queued into the chain in one batch and
sends it to the log's writer process (sqlite_writer) through a pipe; the writer inserts the
batch in one transaction (one fsync) and answers with the highest committed seq. Only then
are the batch's futures resolved and its records published to live tails. One batch is in
flight at a time; while the writer waits on the fsync the loop keeps queueing, so the next
batch grows with the load (group commit), and none of the writing holds this process's GIL.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
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
from nunet.eventlog.sqlite_channel import WriterChannel
from nunet.eventlog.sqlite_writer import Committed, Failed

# A queued submission: one encoded event, or a list of them (append_many), with its future.
_Submission = tuple[EncodedEvent | list[EncodedEvent], "asyncio.Future[Any]"]
_PART = 128  # records per frame: the writer inserts a part while the loop seals the next
# Group-commit pacing: a batch follows the previous one by at least this long unless a full
# part is waiting. Each batch costs the loop a pipe write and read that wake the writer (tens
# of microseconds); under a steady trickle of appends (traced actor messages) batches of a few
# records would spend more on that than on the records. An idle log is not delayed.
_MIN_BATCH_INTERVAL = 0.005


class _Batch:
    """The batch with the writer: its submissions and records so far, chained after the head."""

    __slots__ = ("events", "failure", "hash", "records", "seq", "stamp", "submissions")

    def __init__(self, seq: int, last_hash: bytes, stamp: int) -> None:
        self.seq = seq  # the last record sealed so far (at first, the committed head)
        self.hash = last_hash
        self.stamp = stamp  # one timestamp per batch
        self.submissions: list[_Submission] = []
        self.events = 0  # in its submissions
        self.records: list[EventRecord] = []
        self.failure: str | None = None


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
        self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"eventlog-read:{path.name}")
        self._read_conn: sqlite3.Connection | None = None
        self._writer: WriterChannel | None = None
        self._lock_fd: int | None = None
        self._head: tuple[int, bytes] = (0, ZERO_HASH)  # the last committed record
        self._last_timestamp = 0
        self._queued: list[_Submission] = []
        self._queued_events = 0
        self._open: _Batch | None = None
        self._in_flight: _Batch | None = None
        self._end_scheduled = False
        self._last_batch_at = float("-inf")  # loop time the last batch was handed over
        self._paced: asyncio.TimerHandle | None = None  # the next batch, held back for pacing
        self._queued_waited_on = False  # someone awaits a queued append: do not hold it back
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._writer_lost: WriteFailed | None = None
        self._settling: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if not self.read_only:
            self._lock_fd = _lock_exclusively(self.path)
            self._writer = await WriterChannel.start(
                self.path,
                keep_fd=self._lock_fd,
                on_answer=self._on_answer,
                on_exit=self._on_writer_exit,
            )
        self._read_conn = await self._on_reader(sqlite_store.connect_reader, self.path)
        if not self.read_only:
            seq, last_hash, timestamp = await self._on_reader(
                sqlite_store.load_head, self._read_conn, self.path
            )
            self._head = (seq, last_hash)
            self._last_timestamp = timestamp

    async def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._closed = True
        await self._until_idle()  # every queued append is committed (or has failed)
        self._feed.close()
        # The reader goes first so that the writer's connection is the last one: closing it
        # checkpoints the WAL into the database file and removes the WAL.
        if self._read_conn is not None:
            conn, self._read_conn = self._read_conn, None
            await self._loop.run_in_executor(self._reader, conn.close)
        self._reader.shutdown(wait=False)
        if self._writer is not None:
            await self._writer.stop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # with the writer gone, this releases the flock
            self._lock_fd = None

    @property
    def writer_pid(self) -> int | None:
        """The pid of the log's writer process; None for a read-only view."""
        return None if self._writer is None else self._writer.pid

    # -- appending ---------------------------------------------------------------------------

    def append_nowait(self, event: Event, *, actor: str = "") -> asyncio.Future[EventRecord]:
        return self._submit(event, actor, waited_on=False)

    async def append(self, event: Event, *, actor: str = "") -> EventRecord:
        return await self._submit(event, actor, waited_on=True)

    def _submit(self, event: Event, actor: str, *, waited_on: bool) -> asyncio.Future[EventRecord]:
        self._check_writable()
        encoded = self._encoder.encode(event, actor)
        future: asyncio.Future[EventRecord] = self._loop.create_future()
        self._enqueue((encoded, future), 1, waited_on=waited_on)
        return future

    async def append_many(self, events: Sequence[Event], *, actor: str = "") -> list[EventRecord]:
        self._check_writable()
        if not events:
            return []
        encode = self._encoder.encode
        batch = [encode(event, actor) for event in events]
        future: asyncio.Future[list[EventRecord]] = self._loop.create_future()
        self._enqueue((batch, future), len(batch), waited_on=True)
        return await future

    async def head(self) -> tuple[int, bytes]:
        """The last committed record, after every append made before this call is settled.

        So a caller sees its own append_nowait()s in the head, as it would with a writer
        thread that commits at once; a batch takes a round trip to the writer process.
        """
        self._check_open()
        if not self.read_only:
            if self._paced is not None:
                self._start_paced_batch()  # someone waits now
            newest = self._newest_pending()
            if newest is not None:  # answers come in order: it settles after all before it
                await asyncio.wait([newest])
            return self._head
        last: EventRecord | None = await self._on_reader(sqlite_store.read_last, self._read_conn)
        return (0, ZERO_HASH) if last is None else (last.seq, last.hash)

    def _newest_pending(self) -> asyncio.Future[Any] | None:
        if self._queued:
            return self._queued[-1][1]
        for batch in (self._open, self._in_flight):
            if batch is not None and batch.submissions:
                return batch.submissions[-1][1]
        return None

    def _check_writable(self) -> None:
        if self.read_only:
            raise LogIsReadOnly(f"{self.path} is open read-only")
        if self._closing:
            raise LogClosed(f"{self.path} is closed")
        if self._writer_lost is not None:
            raise self._writer_lost

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosed(f"{self.path} is closed")

    # -- group commit through the writer process ---------------------------------------------
    #
    # At most one batch is with the writer: `_open` while its parts are being sent (the writer
    # inserts them as they come), then `_in_flight` once its last part is sent, until the
    # writer answers. Appends made meanwhile queue up and become the next batch, which is
    # sealed after the committed head; a failed batch therefore never needs re-sealing.

    def _enqueue(self, submission: _Submission, count: int, *, waited_on: bool) -> None:
        self._queued.append(submission)
        self._queued_events += count
        self._queued_waited_on |= waited_on
        if self._in_flight is not None:
            return  # the writer's answer starts the next batch
        if self._paced is not None:
            if self._queued_events >= _PART or waited_on:
                self._start_paced_batch()  # no reason to hold it back any longer
            return
        if not self._end_scheduled and self._open is None and self._pace():
            return
        if not self._end_scheduled:
            self._end_scheduled = True
            self._loop.call_soon(self._end_batch)  # not now: appends of this turn join in
        elif self._queued_events >= _PART:
            self._send_queued(ends_batch=False)  # the writer starts while the batch grows

    def _end_batch(self) -> None:
        self._end_scheduled = False
        if self._in_flight is None and (self._queued or self._open is not None):
            self._send_queued(ends_batch=True)
        self._wake_if_idle()

    def _send_queued(self, *, ends_batch: bool) -> None:
        """Seal what is queued into the open batch and send it; maybe end the batch."""
        writer = self._writer
        assert writer is not None
        batch = self._open
        if batch is None:
            now = time.time_ns()
            stamp = now if now > self._last_timestamp else self._last_timestamp
            batch = self._open = _Batch(*self._head, stamp)
        submissions, self._queued = self._queued, []
        batch.events += self._queued_events
        self._queued_events = 0
        self._queued_waited_on = False
        batch.submissions += submissions
        sent = False  # a part, which carries the end of the batch if this ends it
        if submissions and batch.failure is None:
            try:
                self._seal_and_send(batch, submissions, ends_batch)
                sent = True
            except Exception as exc:  # e.g. an actor name that is not valid UTF-8
                batch.failure = f"it could not be sealed: {exc}"
        if batch.failure is not None:
            writer.send([], ends_batch=True, abort=True)  # the writer rolls the batch back
        elif ends_batch and not sent:
            writer.send([], ends_batch=True)
        if ends_batch or batch.failure is not None:
            self._open = None
            self._in_flight = batch
            self._last_batch_at = self._loop.time()

    def _seal_and_send(
        self, batch: _Batch, submissions: list[_Submission], ends_batch: bool
    ) -> None:
        """Seal events after the batch's last record and send them in parts of _PART."""
        assert self._writer is not None
        events: list[EncodedEvent] = []
        for encoded, _ in submissions:
            if type(encoded) is list:
                events.extend(encoded)
            else:
                events.append(encoded)  # type: ignore[arg-type]
        total = len(events)
        for start in range(0, total, _PART):
            part = seal(
                events if total <= _PART else events[start : start + _PART],
                batch.seq,
                batch.hash,
                batch.stamp,
            )
            last_part = start + _PART >= total
            self._writer.send(part, ends_batch=ends_batch and last_part)
            batch.seq, batch.hash = part[-1].seq, part[-1].hash
            batch.records += part

    def _on_answer(self, answer: Committed | Failed) -> None:
        """The writer's answer for the batch in flight (answers come in order, one per batch)."""
        batch = self._in_flight
        if batch is None:
            return
        self._in_flight = None
        records = batch.records
        if (
            batch.failure is None
            and isinstance(answer, Committed)
            and answer.last_seq == records[-1].seq
        ):
            last = records[-1]
            self._head = (last.seq, last.hash)
            self._last_timestamp = last.timestamp
            self._start_next_batch()  # first, so the writer starts on it while the loop resolves
            self._deliver(batch.submissions, records)
        else:
            # The head stays at the last committed record: the next batch is sealed after it.
            if batch.failure is not None:
                reason = batch.failure
            elif isinstance(answer, Failed):
                reason = answer.message
            else:
                reason = f"the writer answered for seq {answer.last_seq}, not {records[-1].seq}"
            error = WriteFailed(f"{self.path}: batch of {batch.events} not written: {reason}")
            _fail(batch.submissions, error)
            self._start_next_batch()
        self._wake_if_idle()

    def _start_next_batch(self) -> None:
        if not self._queued:
            return  # the next append schedules the batch
        if not self._pace():
            self._begin_batch()

    def _pace(self) -> bool:
        """Hold the next batch back until _MIN_BATCH_INTERVAL after the last; True if held.

        Only fire-and-forget appends are held: once someone awaits an append (append(),
        append_many(), head()), its batch goes at once.
        """
        due = self._last_batch_at + _MIN_BATCH_INTERVAL
        if self._queued_waited_on or self._queued_events >= _PART or self._loop.time() >= due:
            return False
        self._paced = self._loop.call_at(due, self._paced_batch_due)
        return True

    def _begin_batch(self) -> None:
        self._send_queued(ends_batch=False)
        if not self._end_scheduled:
            self._end_scheduled = True
            self._loop.call_soon(self._end_batch)  # after the appends that _deliver wakes

    def _start_paced_batch(self, *, held_long_enough: bool = False) -> None:
        """Start the held-back batch: at its time (gathered long enough: send and end it in one
        write), or early because a part is full or someone awaits (it keeps growing until the
        end of this loop turn, as any batch does)."""
        if self._paced is not None:
            self._paced.cancel()
            self._paced = None
        if self._queued and self._in_flight is None and self._writer_lost is None:
            if held_long_enough:
                self._send_queued(ends_batch=True)
            else:
                self._begin_batch()
        self._wake_if_idle()

    def _paced_batch_due(self) -> None:
        self._paced = None
        self._start_paced_batch(held_long_enough=True)

    def _deliver(self, submissions: list[_Submission], records: list[EventRecord]) -> None:
        """Resolve each submission's future with its records, then feed the live tails."""
        i = 0
        for encoded, future in submissions:
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

    def _on_writer_exit(self, cause: str) -> None:
        """The writer process is gone: fail what it cannot have committed, then look at the
        store to learn whether the batch in flight was committed before it died."""
        lost = self._writer_lost = WriteFailed(
            f"{self.path}: the writer process {cause}; "
            "appends fail until the log is closed and reopened"
        )
        queued, self._queued = self._queued, []
        _fail(queued, lost)
        if self._paced is not None:
            self._paced.cancel()
            self._paced = None
        if self._open is not None:  # its last part was never sent, so it was never committed
            _fail(self._open.submissions, lost)
            self._open = None
        batch, self._in_flight = self._in_flight, None
        if batch is not None:
            self._settling = self._loop.create_task(self._settle_after_writer_exit(batch, lost))
        self._wake_if_idle()

    async def _settle_after_writer_exit(self, batch: _Batch, lost: WriteFailed) -> None:
        last: EventRecord | None = None
        try:
            if self._read_conn is not None and batch.failure is None:
                last = await self._on_reader(sqlite_store.read_last, self._read_conn)
        except Exception:  # unreadable: treat it as not written
            last = None
        mine = batch.records[-1] if batch.records else None
        if last is not None and mine is not None and (last.seq, last.hash) == (mine.seq, mine.hash):
            self._head = (mine.seq, mine.hash)
            self._deliver(batch.submissions, batch.records)
        else:
            _fail(batch.submissions, lost)
        self._settling = None
        self._wake_if_idle()

    def _wake_if_idle(self) -> None:
        if not self._idle_waiters or not self._idle():
            return
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _idle(self) -> bool:
        return not (
            self._queued
            or self._open is not None
            or self._in_flight is not None
            or self._end_scheduled
            or self._paced is not None
            or self._settling is not None
        )

    async def _until_idle(self) -> None:
        """Until every queued append is committed or has failed."""
        while not self._idle():
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._idle_waiters.append(waiter)
            await asyncio.shield(waiter)

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
