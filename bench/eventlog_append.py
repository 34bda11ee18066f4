"""Durable appends/s through the SQLite event log (group commit) vs a raw SQLite batched insert.

Both write the same encoded payloads into a same-shaped table in WAL mode with
synchronous=FULL, in batches of BATCH rows per transaction. The raw insert is handed rows
with their hashes already computed, so it measures SQLite alone; ours includes encoding,
chaining (SHA-256 per record), the pipe to the writer process and resolving futures.

The headline compares like with like: ours via append_many(BATCH) against the raw insert of
BATCH rows per transaction. Other ways of appending are printed for information.
Run: python bench/eventlog_append.py
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import chain
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nunet.eventlog import Event, EventLog, open_sqlite_log
from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.eventlog.event import EventEncoder
from nunet.eventlog.sqlite_store import INSERT

N = 200_000
BATCH = 1_000
APPENDERS = 1_000
ROUNDS = 3  # best of


class EnvelopeTraced(Event, frozen=True, kw_only=True):
    """A typical small traced actor message."""

    TYPE = "bench.envelope_traced"
    behavior: str
    sender: str
    nonce: int
    size: int


def make_events(count: int) -> list[EnvelopeTraced]:
    return [
        EnvelopeTraced(
            behavior="/dms/node/peers/list",
            sender=f"did:key:z6Mk{i % 97:04}",
            nonce=i,
            size=i % 4096,
        )
        for i in range(count)
    ]


async def timed(label: str, work: Callable[[EventLog], Awaitable[None]]) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            log = await open_sqlite_log(Path(tmp) / "events.db")
            start = time.perf_counter()
            await work(log)
            elapsed = time.perf_counter() - start
            head, _ = await log.head()
            await log.close()
            assert head == N, head
        best = max(best, N / elapsed)
    print(f"  ours, {label:<46} {best:>10,.0f} appends/s")
    return best


async def ours() -> dict[str, float]:
    events = make_events(N)

    async def many_sequential(log: EventLog) -> None:
        for i in range(0, N, BATCH):
            await log.append_many(events[i : i + BATCH], actor="/dms/node")

    async def many_concurrent(log: EventLog) -> None:
        async def caller(part: list[EnvelopeTraced]) -> None:
            for i in range(0, len(part), 100):
                await log.append_many(part[i : i + 100], actor="/dms/node")

        share = N // 8
        await asyncio.gather(*(caller(events[k * share : (k + 1) * share]) for k in range(8)))

    async def append_concurrent(log: EventLog) -> None:
        async def appender(part: list[EnvelopeTraced]) -> None:
            for event in part:
                await log.append(event, actor="/dms/node")

        share = N // APPENDERS
        await asyncio.gather(
            *(appender(events[k * share : (k + 1) * share]) for k in range(APPENDERS))
        )

    async def append_nowait(log: EventLog) -> None:
        # Fire and forget, as tracing does; futures resolve in seq order, so the last one
        # resolving means every record is durable.
        append = log.append_nowait
        for event in events:
            last = append(event, actor="/dms/node")
        await last

    return {
        "append_many": await timed(f"append_many({BATCH}), one caller", many_sequential),
        "append_many_concurrent": await timed(
            "append_many(100), 8 concurrent callers", many_concurrent
        ),
        "append": await timed(f"append(), {APPENDERS} concurrent tasks", append_concurrent),
        "append_nowait": await timed("append_nowait() x N, then await the last", append_nowait),
    }


def raw_sqlite() -> dict[str, float]:
    """Raw inserts of pre-sealed rows, two ways: executemany, and multi-row INSERT statements."""
    encoder = EventEncoder()
    encoded = [encoder.encode(e, "/dms/node") for e in make_events(N)]
    rows = [msgspec.structs.astuple(r) for r in seal(encoded, 0, ZERO_HASH, time.time_ns())]
    per_statement = 500
    multi_row = "INSERT INTO events VALUES " + ", ".join(
        ["(?, ?, ?, ?, ?, ?, ?, ?)"] * per_statement
    )

    def executemany(conn: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
        conn.executemany(INSERT, batch)

    def multi_row_insert(conn: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
        for j in range(0, len(batch), per_statement):
            conn.execute(multi_row, list(chain.from_iterable(batch[j : j + per_statement])))

    figures = {}
    for label, insert in (
        ("executemany", executemany),
        (f"multi-row INSERT ({per_statement} rows/statement)", multi_row_insert),
    ):
        best = 0.0
        for _ in range(ROUNDS):
            with tempfile.TemporaryDirectory() as tmp:
                conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(
                    "CREATE TABLE events (seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, "
                    "type TEXT NOT NULL, version INTEGER NOT NULL, actor TEXT NOT NULL, "
                    "payload BLOB NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL)"
                )
                start = time.perf_counter()
                for i in range(0, N, BATCH):
                    conn.execute("BEGIN")
                    insert(conn, rows[i : i + BATCH])
                    conn.execute("COMMIT")
                elapsed = time.perf_counter() - start
                conn.close()
            best = max(best, N / elapsed)
        print(f"  raw SQLite, {BATCH} rows/transaction, {label:<36} {best:>10,.0f} rows/s")
        figures[label] = best
    return figures


def main() -> None:
    print(f"eventlog_append: {N:,} events, WAL + synchronous=FULL, best of {ROUNDS}")
    figures = asyncio.run(ours())
    raw = raw_sqlite()
    peer_label, peer = max(raw.items(), key=lambda item: item[1])  # the faster raw method
    value = figures["append_many"]
    print(
        f"  ratio (ours append_many / fastest raw): {value / peer:.2f}; "
        f"single append() from {APPENDERS} tasks: {figures['append'] / peer:.2f} of raw"
    )
    print(
        json.dumps(
            {
                "bench": "eventlog_append",
                "value": round(value),
                "unit": "appends/s",
                "peer": f"raw sqlite3 {peer_label}, {BATCH} rows per transaction",
                "peer_value": round(peer),
                "ratio": round(value / peer, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
