"""Blocking SQLite access for the embedded log: connection, schema, head, pages, inserts.

Each function runs on the thread that owns the connection (the writer or the reader thread).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Sequence
from itertools import chain
from pathlib import Path

import msgspec

from nunet.eventlog.chain import ZERO_HASH, hash_matches
from nunet.eventlog.errors import CorruptLog, LogNotFound
from nunet.eventlog.event import EventRecord

astuple = msgspec.structs.astuple
_flatten = chain.from_iterable

FORMAT = "1"
COLUMNS = "seq, timestamp, type, version, actor, payload, prev_hash, hash"
INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

# seq is the rowid, so appends go to the right edge of one B-tree and reads by seq are a
# range scan. No other index: the hot path pays for nothing it does not need.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    actor TEXT NOT NULL,
    payload BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_are_not_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_not_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO log_meta (key, value) VALUES ('format', '1');
"""


def connect_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode with synchronous=FULL, schema in place.

    synchronous=FULL makes every COMMIT fsync the WAL, so a committed batch survives power
    loss, not just a process crash; group commit pays that fsync once per batch.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise CorruptLog(f"{path}: could not switch to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        _check_format(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise CorruptLog(f"{path} is not a readable event log: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; works while a node writes the log (WAL readers do not block)."""
    if not path.exists():
        raise LogNotFound(f"no event log at {path}")
    conn = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA query_only=ON")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "events" not in tables:
            raise CorruptLog(f"{path} is an SQLite file but not an event log (no events table)")
        _check_format(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise CorruptLog(f"{path} is not a readable event log: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _check_format(conn: sqlite3.Connection, path: Path) -> None:
    row = conn.execute("SELECT value FROM log_meta WHERE key = 'format'").fetchone()
    if row is None or row[0] != FORMAT:
        found = None if row is None else row[0]
        raise CorruptLog(f"{path}: log format {found!r}, this nunet reads format {FORMAT!r}")


def load_head(conn: sqlite3.Connection, path: Path) -> tuple[int, bytes, int]:
    """(seq, hash, timestamp) of the last record, after checking that record's own hash."""
    try:
        record = read_last(conn)
    except sqlite3.DatabaseError as exc:
        raise CorruptLog(f"{path}: cannot read the last record: {exc}") from None
    if record is None:
        return 0, ZERO_HASH, 0
    if not hash_matches(record):
        raise CorruptLog(
            f"{path}: the last record (seq {record.seq}) does not match its hash; "
            "refusing to extend a broken chain (run `nunet events verify` for the full report)"
        )
    return record.seq, record.hash, record.timestamp


def read_page(
    conn: sqlite3.Connection,
    from_seq: int,
    to_seq: int | None,
    types: Collection[str] | None,
    limit: int,
) -> list[EventRecord]:
    sql = f"SELECT {COLUMNS} FROM events WHERE seq >= ?"
    params: list[object] = [from_seq]
    if to_seq is not None:
        sql += " AND seq <= ?"
        params.append(to_seq)
    if types is not None:
        wanted = list(types)
        if not wanted:
            return []
        sql += f" AND type IN ({', '.join('?' * len(wanted))})"
        params.extend(wanted)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [EventRecord(*row) for row in conn.execute(sql, params)]


def insert_batch(conn: sqlite3.Connection, records: Sequence[EventRecord]) -> None:
    """Insert records in one transaction; on any error nothing is inserted.

    Rows go in as multi-row INSERTs of up to _CHUNK rows: one sqlite3_step per statement
    instead of one per row, which is faster and, because the sqlite3 module releases the GIL
    around each step, avoids a GIL hand-off per row while the event loop thread is busy.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = 0
        total = len(records)
        while start < total:
            size = _chunk_size(total - start)
            chunk = records[start : start + size]
            conn.execute(_insert_rows(size), list(_flatten(map(astuple, chunk))))
            start += size
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_CHUNK = 512  # rows per statement: 4096 parameters, well under SQLite's 32766


def _chunk_size(remaining: int) -> int:
    """_CHUNK, else the largest power of two that fits: few statement shapes to cache."""
    if remaining >= _CHUNK:
        return _CHUNK
    return 1 << (remaining.bit_length() - 1)


@functools.cache
def _insert_rows(rows: int) -> str:
    return f"INSERT INTO events ({COLUMNS}) VALUES " + ", ".join(
        ["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows
    )


def read_last(conn: sqlite3.Connection) -> EventRecord | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else EventRecord(*row)


def unreadable(path: Path, from_seq: int, exc: sqlite3.DatabaseError) -> CorruptLog:
    return CorruptLog(f"{path}: records from seq {from_seq} on cannot be read: {exc}")
