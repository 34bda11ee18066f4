"""Our SQLite event log vs the `eventsourcing` package's stock SQLite recorder, same events.

Both stores run WAL with synchronous=FULL (eventsourcing's connections keep SQLite's default
FULL) and record the same msgpack-encoded payloads. Two workloads:

- one event at a time, each durable before it counts: eventsourcing's insert_events([event])
  per event (one transaction each), ours append() from many concurrent tasks (group commit);
- batches of BATCH: insert_events(batch) vs append_many(batch).

The headline is the one-at-a-time workload, the shape of tracing actor messages: there group
commit turns one fsync per event into one per batch. With events already batched by a single
caller both pay one fsync per batch, and ours does more work per event (SHA-256 chain, a thread
hand-off), so expect parity there; the batch figures are printed beside the headline. Run: python bench/eventlog_vs_eventsourcing.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nunet.eventlog import Event, EventLog, open_sqlite_log

SINGLE_N = 5_000  # eventsourcing pays one fsync per event: keep its run short
BATCH_N = 100_000
BATCH = 100
APPENDERS = 500
ROUNDS = 3


class EnvelopeTraced(Event, frozen=True, kw_only=True):
    TYPE = "bench.envelope_traced"
    behavior: str
    sender: str
    nonce: int


def make_events(count: int) -> list[EnvelopeTraced]:
    return [
        EnvelopeTraced(behavior="/dms/node/peers/list", sender=f"did:key:z6Mk{i % 97}", nonce=i)
        for i in range(count)
    ]


def stored_events(events: list[EnvelopeTraced]) -> list[StoredEvent]:
    originator = uuid.uuid4()  # one stream, like one node's log
    encode = msgspec.msgpack.encode
    return [
        StoredEvent(originator, i + 1, EnvelopeTraced.TYPE, encode(e)) for i, e in enumerate(events)
    ]


def eventsourcing_rate(count: int, batch: int) -> float:
    records = stored_events(make_events(count))
    best = 0.0
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            datastore = SQLiteDatastore(str(Path(tmp) / "es.db"))
            recorder = SQLiteApplicationRecorder(datastore)
            recorder.create_table()
            start = time.perf_counter()
            for i in range(0, count, batch):
                recorder.insert_events(records[i : i + batch])
            elapsed = time.perf_counter() - start
            datastore.close()
        best = max(best, count / elapsed)
    return best


async def ours_rate(count: int, batch: int) -> float:
    events = make_events(count)
    best = 0.0
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            log = await open_sqlite_log(Path(tmp) / "events.db")
            start = time.perf_counter()
            if batch == 1:
                share = count // APPENDERS
                await asyncio.gather(
                    *(
                        _append_each(log, events[k * share : (k + 1) * share])
                        for k in range(APPENDERS)
                    )
                )
            else:
                for i in range(0, count, batch):
                    await log.append_many(events[i : i + batch])
            elapsed = time.perf_counter() - start
            assert (await log.head())[0] == count
            await log.close()
        best = max(best, count / elapsed)
    return best


async def _append_each(log: EventLog, events: list[EnvelopeTraced]) -> None:
    for event in events:
        await log.append(event)


def main() -> None:
    print(f"eventlog_vs_eventsourcing: WAL + synchronous=FULL, best of {ROUNDS}")
    es_single = eventsourcing_rate(SINGLE_N, 1)
    ours_single = asyncio.run(ours_rate(BATCH_N, 1))
    print(f"  one at a time: eventsourcing insert_events([e])       {es_single:>10,.0f} events/s")
    print(
        f"  one at a time: ours append(), {APPENDERS} concurrent tasks     {ours_single:>10,.0f} events/s"
    )
    es_batch = eventsourcing_rate(BATCH_N, BATCH)
    ours_batch = asyncio.run(ours_rate(BATCH_N, BATCH))
    print(f"  batches of {BATCH}: eventsourcing insert_events(batch)   {es_batch:>10,.0f} events/s")
    print(
        f"  batches of {BATCH}: ours append_many(batch)              {ours_batch:>10,.0f} events/s"
    )
    print(
        f"  ratios: one at a time {ours_single / es_single:.1f}x, "
        f"batches of {BATCH} {ours_batch / es_batch:.1f}x"
    )
    print(
        json.dumps(
            {
                "bench": "eventlog_vs_eventsourcing",
                "value": round(ours_single),
                "unit": "durable events/s",
                "peer": "eventsourcing 9.5.6 SQLiteApplicationRecorder, one insert_events per event",
                "peer_value": round(es_single),
                "ratio": round(ours_single / es_single, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
