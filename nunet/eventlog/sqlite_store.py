"""Blocking SQLite access for the embedded log's reading side: connection, head, pages.

Each function runs on the log's reader thread. Writing (schema, inserts) is sqlite_writer's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from nunet.eventlog.chain import ZERO_HASH, hash_matches
from nunet.eventlog.errors import CorruptLog, LogNotFound
from nunet.eventlog.event import EventRecord
from nunet.eventlog.sqlite_writer import COLUMNS, FORMAT, StoreRefused, open_store

INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def connect_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection in this process (WAL, synchronous=FULL, schema in place).

    The log itself writes through its writer process (sqlite_writer); this is the same
    opening, for tools and tests that build a store directly.
    """
    try:
        return open_store(path)
    except StoreRefused as exc:
        raise CorruptLog(str(exc)) from None


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


def read_last(conn: sqlite3.Connection) -> EventRecord | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else EventRecord(*row)


def unreadable(path: Path, from_seq: int, exc: sqlite3.DatabaseError) -> CorruptLog:
    return CorruptLog(f"{path}: records from seq {from_seq} on cannot be read: {exc}")
