"""The SQLite log's writer process: owns the write connection and commits the batches it is sent.

The event loop seals records into the chain and sends them here in batches; this process
inserts each batch in one transaction (one fsync) and answers with the highest committed seq.
It has its own interpreter, so none of its work competes with the event loop for the GIL.

It imports only the standard library and msgspec, and is started by file path
(`python -P .../sqlite_writer.py PATH PARENT_PID`), not as part of the nunet package:
it is ready in a few tens of milliseconds instead of paying for importing nunet.eventlog.

Wire (both directions): frames of a 4-byte big-endian length, a flags byte, a msgpack body.
    loop -> writer: a batch in one or more parts, each a list of EventRecords (each a map of
                    the eight columns); the last part carries END_OF_BATCH (and ABORT if the
                    loop gave it up). Parts let the writer insert the start of a batch while
                    the loop still seals, or even gathers, the rest.
    writer -> loop: Ready or Refused once, then one Committed or Failed per batch, in order
End of input means "stop": the writer closes its connection (checkpointing the WAL) and exits.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import msgspec

FORMAT = "1"
COLUMNS = "seq, timestamp, type, version, actor, payload, prev_hash, hash"
FRAME_HEADER = struct.Struct(">IB")  # body length, flags
END_OF_BATCH = 1  # flag: commit after this part
ABORT = 2  # flag (with END_OF_BATCH): roll the batch back, the loop could not finish it

# seq is the rowid, so appends go to the right edge of one B-tree and reads by seq are a
# range scan. No other index: the hot path pays for nothing it does not need.
SCHEMA = """
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


class StoreRefused(Exception):
    """The file cannot be opened as an event log for writing; the message says why."""


# -- the writer's answers ------------------------------------------------------------------


class Ready(msgspec.Struct, tag=True, array_like=True):
    """The store is open and its schema in place."""


class Refused(msgspec.Struct, tag=True, array_like=True):
    """The store could not be opened. kind: "corrupt" (not a usable log) or "error"."""

    kind: str
    message: str


class Committed(msgspec.Struct, tag=True, array_like=True):
    """Every record up to last_seq is durable."""

    last_seq: int


class Failed(msgspec.Struct, tag=True, array_like=True):
    """The batch ending at last_seq was rolled back; nothing of it is in the log."""

    last_seq: int
    message: str


Reply = Ready | Refused | Committed | Failed


class Row(msgspec.Struct, gc=False):
    """One record as it arrives from the loop: the columns of the events table, in order."""

    seq: int
    timestamp: int
    type: str
    version: int
    actor: str
    payload: bytes
    prev_hash: bytes
    hash: bytes


# -- the store -------------------------------------------------------------------------------


def open_store(path: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode with synchronous=FULL, schema in place.

    synchronous=FULL makes every COMMIT fsync the WAL, so a committed batch survives power
    loss, not just a process crash; group commit pays that fsync once per batch.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise StoreRefused(f"{path}: could not switch to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        row = conn.execute("SELECT value FROM log_meta WHERE key = 'format'").fetchone()
        if row is None or row[0] != FORMAT:
            found = None if row is None else row[0]
            raise StoreRefused(f"{path}: log format {found!r}, this nunet reads format {FORMAT!r}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreRefused(f"{path} is not a readable event log: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def last_link(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """(seq, hash) of the last stored record; (0, 32 zero bytes) for an empty log."""
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, bytes(32)) if row is None else (row[0], row[1])


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert rows inside the caller's transaction.

    Rows go in as multi-row INSERTs of up to _CHUNK rows: one sqlite3_step per statement
    instead of one per row.
    """
    astuple = msgspec.structs.astuple
    start = 0
    total = len(rows)
    while start < total:
        size = _chunk_size(total - start)
        chunk = rows[start : start + size]
        conn.execute(_insert_rows(size), list(chain.from_iterable(map(astuple, chunk))))
        start += size


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


# -- the process -----------------------------------------------------------------------------


class BatchWriter:
    """Commits batches that arrive in parts: the first part begins the transaction, the part
    that ends the batch commits it. A failure anywhere rolls the whole batch back."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.head_seq, self.head_hash = last_link(conn)
        self._seq, self._hash = self.head_seq, self.head_hash  # the last row received
        self._in_transaction = False
        self._failure: str | None = None

    def add(self, rows: Sequence[Row]) -> None:
        """Insert one part of the current batch (nothing, once the batch has failed)."""
        if self._failure is not None or not rows:
            return
        try:
            first = rows[0]
            if first.seq != self._seq + 1 or first.prev_hash != self._hash:
                raise StoreRefused(
                    f"records from seq {first.seq} do not follow seq {self._seq} "
                    "(the last committed or sent record)"
                )
            if not self._in_transaction:
                self._conn.execute("BEGIN IMMEDIATE")
                self._in_transaction = True
            insert_rows(self._conn, rows)
            self._seq, self._hash = rows[-1].seq, rows[-1].hash
        except Exception as exc:
            self.fail(str(exc))

    def fail(self, reason: str) -> None:
        if self._failure is None:
            self._failure = reason

    def end(self, last_seq: int) -> Committed | Failed:
        """Commit the batch (one fsync); say what became durable, or why nothing did."""
        if self._failure is None and self._in_transaction:
            try:
                self._conn.execute("COMMIT")
                self._in_transaction = False
            except Exception as exc:
                self.fail(str(exc))
        reason, self._failure = self._failure, None
        if reason is None:
            self.head_seq, self.head_hash = self._seq, self._hash
            return Committed(self.head_seq)
        if self._conn.in_transaction:  # a failed COMMIT may have rolled back already
            self._conn.execute("ROLLBACK")
        self._in_transaction = False
        self._seq, self._hash = self.head_seq, self.head_hash
        return Failed(last_seq, reason)


def serve(path: Path, source: BinaryIO, answer: Callable[[Reply], None]) -> None:
    """Open the store, then commit each batch read from `source` until it ends."""
    try:
        conn = open_store(path)
        writer = BatchWriter(conn)
    except StoreRefused as exc:
        answer(Refused("corrupt", str(exc)))
        return
    except Exception as exc:
        answer(Refused("error", f"{type(exc).__name__}: {exc}"))
        return
    answer(Ready())
    decode = msgspec.msgpack.Decoder(list[Row]).decode
    last_seq = 0
    try:
        while (frame := _read_frame(source)) is not None:
            body, flags = frame
            try:
                rows = decode(body)
            except Exception as exc:
                writer.fail(f"unreadable batch: {exc}")
            else:
                if rows:
                    last_seq = rows[-1].seq
                writer.add(rows)
            if flags & ABORT:
                writer.fail("the event loop abandoned the batch")
            if flags & END_OF_BATCH:
                answer(writer.end(last_seq))
    finally:
        conn.close()  # the last connection out checkpoints the WAL into the file


def _read_frame(source: BinaryIO) -> tuple[bytes, int] | None:
    header = source.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None  # the loop closed the pipe (or died): stop
    size, flags = FRAME_HEADER.unpack(header)
    body = source.read(size)
    return (body, flags) if len(body) == size else None


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has.

    Closing the pipe already stops the writer; this also covers a parent that forked other
    processes holding the pipe open. Elsewhere the pipe alone has to do.
    """
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def main(argv: Sequence[str]) -> int:
    path, parent = Path(argv[0]), int(argv[1])
    _die_with_parent(parent)
    encode = msgspec.msgpack.Encoder().encode
    out = sys.stdout.fileno()

    def answer(reply: Reply) -> None:
        body = encode(reply)
        os.write(out, FRAME_HEADER.pack(len(body), 0) + body)  # small: one atomic pipe write

    with open(sys.stdin.fileno(), "rb", buffering=1 << 20, closefd=False) as source:
        serve(path, source, answer)
    return 0


if __name__ == "__main__":
    # Everything is committed and closed by now; skipping the interpreter's teardown lets the
    # log's close() return some milliseconds sooner.
    os._exit(main(sys.argv[1:]))
