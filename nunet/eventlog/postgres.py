"""The scale-out event log: the same chain in PostgreSQL (asyncpg), one writer per log name.

Many nodes' logs share one table, told apart by log_name. The writer holds a session advisory
lock on its log name, so a second writer is refused instead of forking the chain. Appends are
group-committed by one writer task: everything queued goes in one COPY inside one
transaction (synchronous_commit=on: durable at COMMIT).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

import asyncpg
from msgspec.structs import astuple

from nunet.eventlog.chain import ZERO_HASH, hash_matches, seal
from nunet.eventlog.errors import CorruptLog, LogClosed, LogIsReadOnly, LogLocked, WriteFailed
from nunet.eventlog.event import EncodedEvent, Event, EventEncoder, EventRecord
from nunet.eventlog.feed import LiveFeed
from nunet.eventlog.log import EventLog
from nunet.eventlog.reading import read_pages, tail_records

TABLE = "nunet_events"
_COLUMNS = (
    "log_name",
    "seq",
    "timestamp",
    "type",
    "version",
    "actor",
    "payload",
    "prev_hash",
    "hash",
)
_SELECT = "SELECT seq, timestamp, type, version, actor, payload, prev_hash, hash FROM nunet_events"
_DDL_LOCK = 0x6E756E6574  # "nunet": serialises schema creation between concurrent openers
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nunet_events (
    log_name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    actor TEXT NOT NULL,
    payload BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (log_name, seq)
);
CREATE OR REPLACE FUNCTION nunet_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$;
CREATE OR REPLACE TRIGGER nunet_events_are_not_changed BEFORE UPDATE OR DELETE ON nunet_events
    FOR EACH ROW EXECUTE FUNCTION nunet_events_append_only();
CREATE OR REPLACE TRIGGER nunet_events_are_not_truncated BEFORE TRUNCATE ON nunet_events
    FOR EACH STATEMENT EXECUTE FUNCTION nunet_events_append_only();
"""

_Submission = tuple[EncodedEvent | list[EncodedEvent], "asyncio.Future[Any]"]


class PostgresEventLog(EventLog):
    """An EventLog in PostgreSQL. Construct it with `await PostgresEventLog.open(dsn)`."""

    def __init__(self, log_name: str, writer: Any, readers: Any) -> None:
        self.log_name = log_name
        self.read_only = writer is None
        self._conn = writer
        self._readers = readers
        self._loop = asyncio.get_running_loop()
        self._encoder = EventEncoder()
        self._feed = LiveFeed()
        self._pending: list[_Submission] = []
        self._wakeup = asyncio.Event()
        self._head: tuple[int, bytes] = (0, ZERO_HASH)
        self._last_timestamp = 0
        self._closing = False
        self._closed = False
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, dsn: str, *, log_name: str = "node", read_only: bool = False
    ) -> PostgresEventLog:
        """Open (creating the table if needed) the log `log_name` in the database at `dsn`.

        `read_only` opens a view for another process (the CLI, an auditor): no writer lock, no
        appends, and `tail` polls the table for what the writer commits.
        """
        if read_only:
            return cls(log_name, None, await asyncpg.create_pool(dsn, min_size=1, max_size=2))
        writer = await asyncpg.connect(dsn)
        try:
            async with writer.transaction():
                await writer.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                await writer.execute(_SCHEMA)
            locked = await writer.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended('nunet-eventlog:' || $1, 0))",
                log_name,
            )
            if not locked:
                raise LogLocked(
                    f"event log {log_name!r} is already open for writing by another process; "
                    "a node's log has one writer"
                )
            readers = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        except BaseException:
            await writer.close()
            raise
        log = cls(log_name, writer, readers)
        try:
            last = await log._read_last()
        except BaseException:
            await log.close()
            raise
        if last is not None:
            if not hash_matches(last):
                await log.close()
                raise CorruptLog(
                    f"log {log_name!r}: the last record (seq {last.seq}) does not match its hash; "
                    "refusing to extend a broken chain (run verify for the full report)"
                )
            log._head = (last.seq, last.hash)
            log._last_timestamp = last.timestamp
        log._writer = asyncio.create_task(log._write_loop(), name=f"eventlog-write:{log_name}")
        return log

    # -- appending ---------------------------------------------------------------------------

    def append_nowait(self, event: Event, *, actor: str = "") -> asyncio.Future[EventRecord]:
        self._check_writable()
        future: asyncio.Future[EventRecord] = self._loop.create_future()
        self._pending.append((self._encoder.encode(event, actor), future))
        self._wakeup.set()
        return future

    async def append(self, event: Event, *, actor: str = "") -> EventRecord:
        return await self.append_nowait(event, actor=actor)

    async def append_many(self, events: Sequence[Event], *, actor: str = "") -> list[EventRecord]:
        self._check_writable()
        if not events:
            return []
        encode = self._encoder.encode
        future: asyncio.Future[list[EventRecord]] = self._loop.create_future()
        self._pending.append(([encode(event, actor) for event in events], future))
        self._wakeup.set()
        return await future

    async def head(self) -> tuple[int, bytes]:
        if self._closed:
            raise LogClosed(f"log {self.log_name!r} is closed")
        if self.read_only:
            last = await self._read_last()
            return (0, ZERO_HASH) if last is None else (last.seq, last.hash)
        return self._head

    def _check_writable(self) -> None:
        if self.read_only:
            raise LogIsReadOnly(f"log {self.log_name!r} is open read-only")
        if self._closing:
            raise LogClosed(f"log {self.log_name!r} is closed")

    async def _write_loop(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending, []
            events: list[EncodedEvent] = []
            for encoded, _ in batch:
                if type(encoded) is list:
                    events.extend(encoded)
                else:
                    events.append(encoded)  # type: ignore[arg-type]
            self._last_timestamp = max(time.time_ns(), self._last_timestamp)
            seq, digest = self._head
            name = self.log_name
            try:
                records = seal(events, seq, digest, self._last_timestamp)
                async with self._conn.transaction():
                    await self._conn.copy_records_to_table(
                        TABLE,
                        records=[(name, *astuple(r)) for r in records],
                        columns=_COLUMNS,
                    )
            except Exception as exc:  # nothing of the batch is in the log: say so to each
                error = WriteFailed(f"log {name!r}: batch of {len(events)} not written: {exc}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self._head = (records[-1].seq, records[-1].hash)
            i = 0
            for encoded, future in batch:
                if type(encoded) is list:
                    result: Any = records[i : i + len(encoded)]
                    i += len(encoded)
                else:
                    result = records[i]
                    i += 1
                if not future.done():
                    future.set_result(result)
            self._feed.publish(records)

    # -- reading -----------------------------------------------------------------------------

    async def _read_last(self) -> EventRecord | None:
        row = await self._readers.fetchrow(
            f"{_SELECT} WHERE log_name = $1 ORDER BY seq DESC LIMIT 1", self.log_name
        )
        return None if row is None else EventRecord(*row)

    async def _read_page(
        self, from_seq: int, to_seq: int | None, types: Collection[str] | None, limit: int
    ) -> list[EventRecord]:
        if self._closed:
            raise LogClosed(f"log {self.log_name!r} is closed")
        sql = f"{_SELECT} WHERE log_name = $1 AND seq >= $2"
        params: list[Any] = [self.log_name, from_seq]
        if to_seq is not None:
            params.append(to_seq)
            sql += f" AND seq <= ${len(params)}"
        if types is not None:
            params.append(list(types))
            sql += f" AND type = ANY(${len(params)}::text[])"
        params.append(limit)
        sql += f" ORDER BY seq LIMIT ${len(params)}"
        rows = await self._readers.fetch(sql, *params)
        return [EventRecord(*row) for row in rows]

    def read(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[EventRecord]:
        return read_pages(self._read_page, from_seq, to_seq, types)

    def tail(self, from_seq: int = 1) -> AsyncIterator[EventRecord]:
        feed = None if self.read_only else self._feed
        return tail_records(self._read_page, feed, from_seq, poll_interval=0.2)

    async def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await asyncio.shield(self._writer)
        self._closed = True
        self._feed.close()
        await self._readers.close()
        if self._conn is not None:
            await self._conn.close()  # ends the session, releasing the advisory lock
