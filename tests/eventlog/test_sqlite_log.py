"""SQLiteEventLog against the EventLog contract, plus what only the embedded store does."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from nunet.eventlog import (
    CorruptLog,
    EventLog,
    LogIsReadOnly,
    LogNotFound,
    WriteFailed,
    open_sqlite_log,
)
from nunet.eventlog.sqlite_store import connect_writer
from nunet.eventlog.verify import verify_log
from tests.eventlog.contract import WAIT_S, EventLogContract, LogBackend, collect
from tests.eventlog.samples import Noted, Pinged, pings

REPO_ROOT = Path(__file__).resolve().parents[2]


class SQLiteBackend(LogBackend):
    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self) -> EventLog:
        return await open_sqlite_log(self.path)

    def _tamper(self, sql: str, params: tuple[object, ...]) -> None:
        # The store refuses updates and deletes by trigger; a forger would drop the triggers.
        with sqlite3.connect(self.path) as conn:
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_updated")
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_deleted")
            conn.execute(sql, params)

    async def set_fields(self, seq: int, **fields: object) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._tamper(f"UPDATE events SET {assignments} WHERE seq = ?", (*fields.values(), seq))

    async def delete(self, seq: int) -> None:
        self._tamper("DELETE FROM events WHERE seq = ?", (seq,))

    async def delete_after(self, seq: int) -> None:
        self._tamper("DELETE FROM events WHERE seq > ?", (seq,))


class TestSQLiteEventLog(EventLogContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> LogBackend:
        return SQLiteBackend(tmp_path / "log" / "events.db")


async def test_the_writer_uses_wal_with_full_fsync(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "events.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        conn.close()


async def test_a_read_only_view_follows_a_log_another_writer_is_writing(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    writer = await open_sqlite_log(path)
    await writer.append_many(pings(3))
    view = await open_sqlite_log(path, read_only=True, poll_interval=0.01)
    try:
        assert await view.head() == await writer.head()
        tail = view.tail(2)
        assert [r.seq for r in await collect(tail, 2)] == [2, 3]
        await writer.append_many(pings(2, start=3))
        assert [r.seq for r in await collect(tail, 2)] == [4, 5]
        await tail.aclose()  # type: ignore[attr-defined]
        with pytest.raises(LogIsReadOnly):
            await view.append(Pinged(n=0))
        assert (await verify_log(view)).ok
    finally:
        await view.close()
        await writer.close()


async def test_opening_a_missing_log_read_only_says_so(tmp_path: Path) -> None:
    with pytest.raises(LogNotFound, match="no event log at"):
        await open_sqlite_log(tmp_path / "absent.db", read_only=True)


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_file_of_garbage_is_a_clear_error(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(CorruptLog, match="is not a readable event log"):
        await open_sqlite_log(path, read_only=read_only)
    assert path.stat().st_size == 8192  # nothing overwritten


async def test_another_sqlite_database_is_not_taken_for_a_log(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(CorruptLog, match="not an event log"):
        await open_sqlite_log(path, read_only=True)


async def test_a_payload_edited_on_disk_is_named_and_blocks_extending_the_chain(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    log = await open_sqlite_log(path)
    await log.append_many([Noted(text=f"MARKER-{i:04}") for i in range(1, 101)])
    await log.close()  # checkpoints the WAL into the file
    data = path.read_bytes()
    assert data.count(b"MARKER-0042") == 1
    path.write_bytes(data.replace(b"MARKER-0042", b"MARKER-9999"))
    view = await open_sqlite_log(path, read_only=True)
    try:
        report = await verify_log(view)
    finally:
        await view.close()
    assert [(p.seq, "edited" in p.reason) for p in report.problems] == [(42, True)]
    path.write_bytes(data.replace(b"MARKER-0100", b"MARKER-9999"))
    with pytest.raises(CorruptLog, match=r"last record \(seq 100\) does not match its hash"):
        await open_sqlite_log(path)


async def test_a_garbled_page_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    log = await open_sqlite_log(path)
    for i in range(20):
        await log.append_many([Noted(text="y" * 200, blob=bytes([i]) * 200)] * 50)
    await log.close()
    page_size = 4096
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    middle = (pages // 2) * page_size
    data[middle : middle + page_size] = os.urandom(page_size)
    path.write_bytes(bytes(data))
    view = await open_sqlite_log(path, read_only=True)
    try:
        report = await verify_log(view)
    finally:
        await view.close()
    [problem] = report.problems  # one damaged stretch, named; every other record verified
    assert problem.reason.startswith(f"records {problem.seq}..")
    assert "cannot be read from the store" in problem.reason
    unreadable = 1000 - report.records
    assert 0 < unreadable < 50
    assert report.head_seq == 1000


async def test_a_failed_batch_fails_its_appends_and_the_log_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    log = await open_sqlite_log(path)
    try:
        await log.append(Pinged(n=1))
        with sqlite3.connect(path) as conn:  # a store that rejects one kind of row
            conn.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.type = 'test.noted' "
                "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        with pytest.raises(WriteFailed, match="disk says no"):
            await log.append_many([Pinged(n=2), Noted(text="poison")])
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TRIGGER poison")
        record = await log.append(Pinged(n=3))
        assert record.seq == 2
        assert (await verify_log(log)).ok
    finally:
        await log.close()


async def test_an_event_that_cannot_be_sealed_fails_its_batch_and_the_log_carries_on(
    tmp_path: Path,
) -> None:
    log = await open_sqlite_log(tmp_path / "events.db")
    try:
        await log.append(Pinged(n=0))
        # 300 events are sealed and sent in parts before the bad one: the writer rolls back.
        batch = [log.append_nowait(Pinged(n=i)) for i in range(300)]
        batch.append(log.append_nowait(Pinged(n=300), actor="\ud800"))  # not UTF-8-encodable
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        assert all(isinstance(outcome, WriteFailed) for outcome in outcomes)
        assert "batch of 301 not written: it could not be sealed" in str(outcomes[0])
        assert [r.seq async for r in log.read()] == [1]
        record = await log.append(Pinged(n=1))
        assert record.seq == 2
        assert (await verify_log(log)).ok
    finally:
        await log.close()


@pytest.mark.slow
async def test_every_append_that_returned_survives_a_sigkill_and_no_writer_outlives_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.eventlog.append_storm",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    printed: list[int] = []
    async with asyncio.timeout(60):
        word, pid = (await process.stdout.readline()).split()
        assert word == b"writer"
        writer_pid = int(pid)
        while len(printed) < 20_000:
            line = await process.stdout.readline()
            assert line, "the append storm exited early"
            printed.append(int(line))
    process.send_signal(signal.SIGKILL)
    rest, _ = await process.communicate()  # what it had printed before it died
    printed += [int(line) for line in rest.split()]
    assert process.returncode == -signal.SIGKILL
    async with asyncio.timeout(WAIT_S):
        await exited(writer_pid)  # the orphaned writer process goes too, releasing the lock

    log = await open_sqlite_log(path)
    try:
        report = await verify_log(log)
        assert report.ok, report.problems
        assert report.head_seq >= max(printed)
        stored = {r.seq async for r in log.read()}
        assert set(printed) <= stored
        assert len(printed) == len(set(printed))
    finally:
        await log.close()


@pytest.mark.slow
async def test_a_killed_writer_process_fails_pending_and_later_appends_and_loses_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    log = await open_sqlite_log(path)
    returned: list[int] = []
    refusals: list[WriteFailed] = []
    enough = asyncio.Event()

    async def appender(worker: int) -> None:
        n = 0
        while True:
            n += 1
            try:
                if n % 5 == 0:
                    seqs = [r.seq for r in await log.append_many(pings(4), actor=f"w{worker}")]
                elif n % 3 == 0:
                    seqs = [(await log.append_nowait(Noted(text="x" * n))).seq]
                else:
                    seqs = [(await log.append(Pinged(n=n), actor=f"w{worker}")).seq]
            except WriteFailed as exc:
                refusals.append(exc)
                return
            returned.extend(seqs)
            if len(returned) >= 10_000:
                enough.set()

    appenders = [asyncio.create_task(appender(w)) for w in range(32)]
    try:
        async with asyncio.timeout(60):
            await enough.wait()
            assert log.writer_pid is not None
            os.kill(log.writer_pid, signal.SIGKILL)
            await asyncio.gather(*appenders)  # every appender gets its WriteFailed: none hangs
        assert len(refusals) == 32
        assert all("the writer process" in str(e) for e in refusals)
        assert all("was killed by SIGKILL" in str(e) for e in refusals)
        with pytest.raises(WriteFailed, match="killed by SIGKILL"):
            log.append_nowait(Pinged(n=0))
        with pytest.raises(WriteFailed, match="until the log is closed and reopened"):
            await log.append_many(pings(2))
        head, _ = await log.head()
        assert head == max(returned)
    finally:
        for task in appenders:
            task.cancel()
        await log.close()  # returns although the writer is gone

    reopened = await open_sqlite_log(path)  # the lock is free again
    try:
        report = await verify_log(reopened)
        assert report.ok, report.problems
        stored = {r.seq async for r in reopened.read()}
        assert set(returned) <= stored
        record = await reopened.append(Pinged(n=1))
        assert record.seq == report.head_seq + 1
    finally:
        await reopened.close()


async def test_a_record_is_neither_returned_nor_visible_before_the_writer_commits_it(
    tmp_path: Path,
) -> None:
    log = await open_sqlite_log(tmp_path / "events.db")
    try:
        await log.append(Pinged(n=1))
        tail = log.tail(2)
        pending_tail = asyncio.ensure_future(anext(tail))
        assert log.writer_pid is not None
        os.kill(log.writer_pid, signal.SIGSTOP)
        try:
            future = log.append_nowait(Pinged(n=2))
            head = asyncio.ensure_future(log.head())
            assert [r.seq async for r in log.read()] == [1]  # several loop turns and a read
            assert not future.done()
            assert not pending_tail.done()
            assert not head.done()  # head() includes every append made before it
        finally:
            os.kill(log.writer_pid, signal.SIGCONT)
        async with asyncio.timeout(WAIT_S):
            record = await future
            assert (await pending_tail).seq == record.seq == 2
            assert await head == (2, record.hash)
        await tail.aclose()  # type: ignore[attr-defined]
    finally:
        await log.close()


async def test_the_writer_process_ends_when_the_log_closes_leaving_no_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    log = await open_sqlite_log(path)
    writer_pid = log.writer_pid
    assert writer_pid is not None
    await log.append_many(pings(3))
    await log.close()
    async with asyncio.timeout(WAIT_S):
        await exited(writer_pid)
    assert not path.with_name(path.name + "-wal").exists()  # the last connection checkpointed


async def exited(pid: int) -> None:
    """Until process `pid` (not necessarily our child) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await gone
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_a_trickle_of_unawaited_appends_is_committed_in_groups_and_in_time(
    tmp_path: Path,
) -> None:
    # Traced actor messages: nobody awaits them, they arrive one per loop turn. They are paced
    # into batches (not one commit each) and still all committed without anyone waiting.
    log = await open_sqlite_log(tmp_path / "events.db")
    batches: list[int] = []
    try:
        tail = log.tail(1)
        for i in range(200):
            log.append_nowait(Pinged(n=i))
            await asyncio.sleep(0)  # one loop turn between appends, like an actor's messages
        seen = 0
        async with asyncio.timeout(WAIT_S):
            async for record in tail:
                seen += 1
                if not batches or batches[-1] != record.timestamp:
                    batches.append(record.timestamp)  # one timestamp per batch
                if seen == 200:
                    break
        await tail.aclose()  # type: ignore[attr-defined]
    finally:
        await log.close()
    assert len(batches) < 50  # grouped: far fewer commits than appends
