"""The EventLog contract: every store (SQLite, PostgreSQL) must pass these tests.

A backend's test module subclasses EventLogContract and supplies one fixture, `backend`,
a LogBackend that opens (and reopens) one log and can tamper with its store behind its back.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator

import pytest

from nunet.eventlog import (
    ZERO_HASH,
    Event,
    EventLog,
    EventRecord,
    LogClosed,
    LogLocked,
    NotAnEvent,
)
from nunet.eventlog.chain import expected_hash
from nunet.eventlog.checkpoint import Checkpointer
from nunet.eventlog.events import LogCheckpoint
from nunet.eventlog.verify import verify_log
from nunet.identity import KeyPair
from tests.eventlog.samples import CATALOGUE, Noted, Pinged, pings

WAIT_S = 10.0


class LogBackend(abc.ABC):
    """Opens one log, and edits its store directly to prove verification catches it."""

    @abc.abstractmethod
    async def open(self) -> EventLog:
        """Open (or reopen) the same log."""

    @abc.abstractmethod
    async def set_fields(self, seq: int, **fields: object) -> None:
        """Overwrite columns of record `seq` in the store."""

    @abc.abstractmethod
    async def delete(self, seq: int) -> None: ...

    @abc.abstractmethod
    async def delete_after(self, seq: int) -> None:
        """Remove every record after `seq` (tail truncation)."""

    async def swap(self, a: int, b: int, log: EventLog) -> None:
        """Exchange the contents of records a and b, keeping their seqs."""
        first, second = await log.get(a), await log.get(b)
        assert first is not None
        assert second is not None
        await self.set_fields(a, **_content(second))
        await self.set_fields(b, **_content(first))


def _content(record: EventRecord) -> dict[str, object]:
    return {
        "timestamp": record.timestamp,
        "type": record.type,
        "version": record.version,
        "actor": record.actor,
        "payload": record.payload,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


async def collect(iterator: AsyncIterator[EventRecord], count: int) -> list[EventRecord]:
    """The next `count` records of an iterator, failing after WAIT_S instead of hanging."""
    records: list[EventRecord] = []
    async with asyncio.timeout(WAIT_S):
        async for record in iterator:
            records.append(record)
            if len(records) == count:
                break
    return records


async def all_records(log: EventLog) -> list[EventRecord]:
    return [record async for record in log.read()]


class EventLogContract:
    @pytest.fixture
    def backend(self) -> LogBackend:
        raise NotImplementedError("a backend's test class supplies the `backend` fixture")

    @pytest.fixture
    async def log(self, backend: LogBackend) -> AsyncIterator[EventLog]:
        log = await backend.open()
        yield log
        await log.close()

    # -- appending and reading ---------------------------------------------------------------

    async def test_an_empty_log_has_head_zero_and_no_records(self, log: EventLog) -> None:
        assert await log.head() == (0, ZERO_HASH)
        assert await all_records(log) == []
        assert await log.get(1) is None

    async def test_append_numbers_records_from_one_and_chains_them(self, log: EventLog) -> None:
        first = await log.append(Pinged(n=1), actor="alice")
        second = await log.append(Noted(text="hi", blob=b"\x00\xff"))
        assert (first.seq, second.seq) == (1, 2)
        assert first.prev_hash == ZERO_HASH
        assert second.prev_hash == first.hash
        assert first.hash == expected_hash(first)
        assert (first.type, first.version, first.actor) == ("test.pinged", 1, "alice")
        assert await log.head() == (2, second.hash)
        assert await all_records(log) == [first, second]

    async def test_payloads_decode_back_to_the_appended_events(self, log: EventLog) -> None:
        events: list[Event] = [Pinged(n=7), Noted(text="ünïcode", blob=bytes(range(256)))]
        records = await log.append_many(events)
        assert [CATALOGUE.decode(r) for r in records] == events

    async def test_append_many_is_one_contiguous_batch_in_order(self, log: EventLog) -> None:
        await log.append(Pinged(n=-1))
        records = await log.append_many(pings(100), actor="batcher")
        assert [r.seq for r in records] == list(range(2, 102))
        assert [CATALOGUE.decode(r) for r in records] == pings(100)
        assert {r.actor for r in records} == {"batcher"}
        assert await log.append_many([]) == []

    async def test_concurrent_appends_get_distinct_contiguous_seqs(self, log: EventLog) -> None:
        async def appender(worker: int) -> list[EventRecord]:
            return [await log.append(Pinged(n=worker * 1000 + i)) for i in range(50)]

        batches = await asyncio.gather(*(appender(w) for w in range(20)))
        seqs = sorted(r.seq for batch in batches for r in batch)
        assert seqs == list(range(1, 1001))
        assert (await verify_log(log)).ok

    async def test_append_nowait_resolves_each_future_with_its_record(self, log: EventLog) -> None:
        futures = [log.append_nowait(Pinged(n=i), actor="tracer") for i in range(200)]
        records = await asyncio.gather(*futures)
        assert [r.seq for r in records] == list(range(1, 201))
        assert [CATALOGUE.decode(r) for r in records] == pings(200)

    async def test_close_writes_everything_enqueued_without_waiting(
        self, backend: LogBackend
    ) -> None:
        log = await backend.open()
        for i in range(500):
            log.append_nowait(Pinged(n=i))
        await log.close()
        reopened = await backend.open()
        try:
            assert [CATALOGUE.decode(r) for r in await all_records(reopened)] == pings(500)
        finally:
            await reopened.close()

    async def test_a_reopened_log_continues_the_same_chain(self, backend: LogBackend) -> None:
        log = await backend.open()
        await log.append_many(pings(10))
        head = await log.head()
        await log.close()
        log = await backend.open()
        try:
            assert await log.head() == head
            record = await log.append(Pinged(n=10))
            assert (record.seq, record.prev_hash) == (11, head[1])
            assert (await verify_log(log)).ok
        finally:
            await log.close()

    async def test_read_honours_bounds_and_types(self, log: EventLog) -> None:
        for i in range(30):
            await log.append(Pinged(n=i) if i % 3 else Noted(text=str(i)))
        assert [r.seq for r in await _list(log.read(5, 9))] == [5, 6, 7, 8, 9]
        assert [r.seq for r in await _list(log.read(29))] == [29, 30]
        assert [r.seq for r in await _list(log.read(31))] == []
        noted = await _list(log.read(types={"test.noted"}))
        assert [r.seq for r in noted] == list(range(1, 31, 3))
        assert await _list(log.read(types=())) == []
        assert [r.seq for r in await _list(log.read(2, 8, ["test.noted"]))] == [4, 7]

    async def test_reads_page_through_long_logs(self, log: EventLog) -> None:
        await log.append_many(pings(2500))
        records = await all_records(log)
        assert [r.seq for r in records] == list(range(1, 2501))

    async def test_timestamps_are_nanoseconds_and_never_decrease(self, log: EventLog) -> None:
        for _ in range(5):
            await log.append_many(pings(3))
        stamps = [r.timestamp for r in await all_records(log)]
        assert stamps == sorted(stamps)
        assert stamps[0] > 1_600_000_000 * 10**9

    async def test_appending_something_that_is_not_an_event_is_refused(self, log: EventLog) -> None:
        class Untyped(Event, frozen=True):
            n: int

        with pytest.raises(NotAnEvent, match="TYPE"):
            await log.append(Untyped(n=1))
        with pytest.raises(NotAnEvent):
            await log.append("not an event")  # type: ignore[arg-type]
        assert await log.head() == (0, ZERO_HASH)

    async def test_a_closed_log_refuses_appends(self, backend: LogBackend) -> None:
        log = await backend.open()
        await log.close()
        await log.close()  # idempotent
        with pytest.raises(LogClosed):
            await log.append(Pinged(n=1))
        with pytest.raises(LogClosed):
            log.append_nowait(Pinged(n=1))

    async def test_a_second_writer_is_refused(self, backend: LogBackend, log: EventLog) -> None:
        with pytest.raises(LogLocked, match="one writer"):
            await backend.open()
        await log.append(Pinged(n=1))  # the first writer is unaffected

    # -- tail --------------------------------------------------------------------------------

    async def test_tail_gives_history_then_live_records_without_gap_or_repeat(
        self, log: EventLog
    ) -> None:
        await log.append_many(pings(50))
        tail = log.tail(10)

        async def write_more() -> None:
            for i in range(50, 150):
                await log.append(Pinged(n=i))

        writer = asyncio.create_task(write_more())
        records = await collect(tail, 140)
        await writer
        assert [r.seq for r in records] == list(range(10, 150))
        await tail.aclose()  # type: ignore[attr-defined]

    async def test_tail_from_a_future_seq_waits_for_it(self, log: EventLog) -> None:
        await log.append_many(pings(3))
        waiting = asyncio.create_task(collect(log.tail(6), 1))
        await log.append_many(pings(5, start=3))
        [record] = await waiting
        assert record.seq == 6
        assert CATALOGUE.decode(record) == Pinged(n=5)

    async def test_tails_end_when_the_log_closes(self, backend: LogBackend) -> None:
        log = await backend.open()
        await log.append(Pinged(n=0))
        seen: list[int] = []
        saw_both = asyncio.Event()

        async def follow() -> None:
            async for record in log.tail():
                seen.append(record.seq)
                if len(seen) == 2:
                    saw_both.set()

        follower = asyncio.create_task(follow())
        await log.append(Pinged(n=1))
        async with asyncio.timeout(WAIT_S):
            await saw_both.wait()
        await log.close()
        async with asyncio.timeout(WAIT_S):
            await follower
        assert seen == [1, 2]

    # -- verification ------------------------------------------------------------------------

    async def test_an_untouched_log_verifies(self, log: EventLog) -> None:
        await log.append_many(pings(20))
        report = await verify_log(log)
        assert report.ok, report.problems
        assert (report.records, report.head_seq) == (20, 20)
        assert report.head_hash == (await log.head())[1]

    async def test_an_edited_payload_is_named_by_seq(
        self, backend: LogBackend, log: EventLog
    ) -> None:
        await log.append_many(pings(10))
        await backend.set_fields(4, payload=b"\x81\xa1n\x63")
        report = await verify_log(log)
        assert not report.ok
        assert [(p.seq, "edited" in p.reason) for p in report.problems] == [(4, True)]

    async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
        self, backend: LogBackend, log: EventLog
    ) -> None:
        records = await log.append_many(pings(10))
        forged = records[4]
        payload = b"\x81\xa1n\x63"
        new_hash = expected_hash(
            EventRecord(
                forged.seq,
                forged.timestamp,
                forged.type,
                forged.version,
                forged.actor,
                payload,
                forged.prev_hash,
                b"",
            )
        )
        await backend.set_fields(5, payload=payload, hash=new_hash)
        report = await verify_log(log)
        assert [p.seq for p in report.problems] == [6]
        assert "prev_hash" in report.problems[0].reason

    async def test_a_deleted_record_is_reported_missing(
        self, backend: LogBackend, log: EventLog
    ) -> None:
        await log.append_many(pings(10))
        await backend.delete(7)
        report = await verify_log(log)
        assert [p.seq for p in report.problems] == [8]
        assert "record 7 is missing" in report.problems[0].reason

    async def test_reordered_records_are_detected(self, backend: LogBackend, log: EventLog) -> None:
        await log.append_many(pings(10))
        await backend.swap(3, 6, log)
        report = await verify_log(log)
        assert not report.ok
        assert {p.seq for p in report.problems} >= {3, 6}

    async def test_a_truncated_tail_is_caught_against_a_trusted_head(
        self, backend: LogBackend, log: EventLog
    ) -> None:
        records = await log.append_many(pings(10))
        trusted = (10, records[-1].hash)
        await backend.delete_after(7)
        assert (await verify_log(log)).ok  # a log alone cannot know its tail is gone
        report = await verify_log(log, trusted_checkpoint=trusted)
        assert [p.seq for p in report.problems] == [10]
        assert "truncated" in report.problems[0].reason

    async def test_a_replaced_record_contradicts_a_trusted_head(self, log: EventLog) -> None:
        await log.append_many(pings(5))
        report = await verify_log(log, trusted_checkpoint=(3, b"\x01" * 32))
        assert [p.seq for p in report.problems] == [3]

    # -- checkpoints -------------------------------------------------------------------------

    async def test_checkpointer_signs_the_head_every_n_records(self, log: EventLog) -> None:
        key = KeyPair.generate()
        checkpointer = Checkpointer(log, key, every_records=10, every_seconds=3600)
        running = asyncio.create_task(checkpointer.run())
        tail = log.tail(1)
        checkpoints: list[EventRecord] = []
        # A read is a round trip to the store: the checkpointer takes the (empty) head and
        # starts counting before the first append, instead of after it (head() would include
        # an append made before it).
        assert await log.get(1) is None
        async with asyncio.timeout(WAIT_S):
            # Two rounds of 10: however the checkpointer's tail batches the records, each round
            # crosses the threshold once (one checkpoint signs the head, however far past it is).
            for round_ in range(2):
                for i in range(10):
                    await log.append(Pinged(n=round_ * 10 + i))
                async for record in tail:
                    if record.type == LogCheckpoint.TYPE:
                        checkpoints.append(record)
                        break
        running.cancel()
        await tail.aclose()  # type: ignore[attr-defined]
        first = CATALOGUE.decode(checkpoints[0])
        assert isinstance(first, LogCheckpoint)
        assert first.signer == key.did
        assert first.signed_at > 0
        assert first.seq >= 10
        report = await verify_log(log, signer=key.did)
        assert report.ok, report.problems
        assert report.checkpoints == 2

    async def test_checkpointer_signs_after_an_interval_only_when_there_is_news(
        self, log: EventLog
    ) -> None:
        checkpointer = Checkpointer(
            log, KeyPair.generate(), every_records=10**9, every_seconds=0.01
        )
        assert await checkpointer.checkpoint() is None  # empty log: nothing to vouch for
        await log.append(Pinged(n=1))
        running = asyncio.create_task(checkpointer.run())
        [record] = [r async for r in _first_of_type(log, LogCheckpoint.TYPE)]
        running.cancel()
        assert record.seq == 2
        assert await checkpointer.checkpoint() is None  # the head is already a checkpoint

    async def test_a_forged_checkpoint_is_reported(self, log: EventLog) -> None:
        node, forger = KeyPair.generate(), KeyPair.generate()
        await log.append_many(pings(3))
        seq, head_hash = await log.head()
        await log.append(
            LogCheckpoint(
                seq=seq,
                head_hash=head_hash,
                signer=node.did,
                signature=forger.sign(b"anything"),
                signed_at=1,
            )
        )
        report = await verify_log(log)
        assert [p.seq for p in report.problems] == [4]
        assert "signature" in report.problems[0].reason

    async def test_a_checkpoint_by_another_key_is_reported_when_the_signer_is_known(
        self, log: EventLog
    ) -> None:
        await log.append_many(pings(3))
        await Checkpointer(log, KeyPair.generate()).checkpoint()
        report = await verify_log(log, signer=KeyPair.generate().did)
        assert [p.seq for p in report.problems] == [4]
        assert "signed by" in report.problems[0].reason

    async def test_a_record_edited_after_its_checkpoint_is_named(
        self, backend: LogBackend, log: EventLog
    ) -> None:
        await log.append_many(pings(5))
        await Checkpointer(log, KeyPair.generate()).checkpoint()
        await backend.set_fields(5, hash=b"\x02" * 32)
        report = await verify_log(log)
        found = {(p.seq, p.reason.split(":")[0]) for p in report.problems}
        assert found == {
            (5, "stored hash does not match the record's content"),
            (5, "the signed checkpoint at seq 6 vouches for a different hash of this record"),
            (6, "prev_hash does not match the hash of seq 5"),
        }


async def _list(iterator: AsyncIterator[EventRecord]) -> list[EventRecord]:
    return [record async for record in iterator]


async def _first_of_type(log: EventLog, event_type: str) -> AsyncIterator[EventRecord]:
    async with asyncio.timeout(WAIT_S):
        async for record in log.tail():
            if record.type == event_type:
                yield record
                return
