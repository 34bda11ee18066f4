"""Projections: live equals replayed, position and state saved together, resume after restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.eventlog import EventLog, EventRecord, LogIsReadOnly, open_sqlite_log
from nunet.eventlog.projection import ProjectionRunner, replay
from nunet.eventlog.projection_store import SQLiteProjectionStore
from nunet.eventlog.statistics import LogStatistics, LogStatisticsState
from tests.eventlog.samples import Noted, Pinged

WAIT_S = 10.0


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EventLog]:
    log = await open_sqlite_log(tmp_path / "events.db")
    yield log
    await log.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteProjectionStore]:
    store = await SQLiteProjectionStore.open(tmp_path / "projections.db")
    yield store
    await store.close()


async def write_mixed(log: EventLog, rounds: int) -> None:
    for i in range(rounds):
        await log.append(Pinged(n=i), actor=f"/dms/actor/{i % 3}")
        await log.append_many([Noted(text=str(i)), Pinged(n=-i)], actor="")


async def test_a_live_projection_equals_one_rebuilt_from_zero(
    log: EventLog, store: SQLiteProjectionStore
) -> None:
    await write_mixed(log, 5)
    runner = ProjectionRunner(log, LogStatistics(), store, save_every=4)
    running = asyncio.create_task(runner.run())
    await write_mixed(log, 20)
    head, _ = await log.head()
    async with asyncio.timeout(WAIT_S):
        await runner.wait_for(head)
    position, rebuilt = await replay(log, LogStatistics())
    assert (runner.position, runner.state) == (position, rebuilt)
    assert rebuilt.records == 75
    assert rebuilt.by_type["test.noted"].count == 25
    assert rebuilt.by_actor["/dms/actor/1"].count == 2 + 7
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_position_and_state_are_saved_together(
    log: EventLog, store: SQLiteProjectionStore
) -> None:
    await write_mixed(log, 10)  # 30 records
    runner = ProjectionRunner(log, LogStatistics(), store, save_every=7)
    running = asyncio.create_task(runner.run())
    async with asyncio.timeout(WAIT_S):
        await runner.wait_for(30)
    stored = await store.load("log-statistics")
    assert stored is not None
    position, state = stored
    assert position == 28  # the last multiple of save_every: records 29-30 are not saved yet
    _, expected = await replay(log, LogStatistics(), to_seq=position)
    assert LogStatistics().decode_state(state) == expected
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await store.load("log-statistics"))[0] == 30  # type: ignore[index]


async def test_a_projection_resumes_where_it_stopped_after_a_restart(
    tmp_path: Path, log: EventLog
) -> None:
    store = await SQLiteProjectionStore.open(tmp_path / "projections.db")
    await write_mixed(log, 4)
    first = ProjectionRunner(log, CountingStatistics(), store)
    await first.load()
    await first.catch_up()
    await store.close()
    await write_mixed(log, 3)

    store = await SQLiteProjectionStore.open(tmp_path / "projections.db")
    projection = CountingStatistics()
    second = ProjectionRunner(log, projection, store)
    await second.load()
    assert second.position == 12
    await second.catch_up()
    assert projection.applied == [13, 14, 15, 16, 17, 18, 19, 20, 21]  # nothing twice
    assert second.state == (await replay(log, LogStatistics()))[1]
    await store.close()


async def test_rebuild_replaces_a_stored_state_that_went_wrong(
    log: EventLog, store: SQLiteProjectionStore
) -> None:
    await write_mixed(log, 3)
    await store.save("log-statistics", 9, LogStatistics().encode_state(LogStatisticsState()))
    runner = ProjectionRunner(log, LogStatistics(), store)
    await runner.load()
    assert runner.state.records == 0
    rebuilt = await runner.rebuild()
    assert rebuilt.records == 9
    stored = await store.load("log-statistics")
    assert stored is not None
    assert LogStatistics().decode_state(stored[1]) == rebuilt


async def test_a_projection_reads_only_its_types(log: EventLog) -> None:
    await write_mixed(log, 4)
    position, state = await replay(log, NotedOnly())
    assert (position, state.records, set(state.by_type)) == (12, 4, {"test.noted"})


async def test_a_read_only_store_refuses_to_save(
    tmp_path: Path, store: SQLiteProjectionStore
) -> None:
    await store.save("x", 1, b"")
    view = await SQLiteProjectionStore.open(tmp_path / "projections.db", read_only=True)
    try:
        assert await view.load("x") == (1, b"")
        with pytest.raises(LogIsReadOnly):
            await view.save("x", 2, b"")
    finally:
        await view.close()


class CountingStatistics(LogStatistics):
    """LogStatistics that remembers which seqs it applied."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[int] = []

    def evolve(self, state: LogStatisticsState, record: EventRecord) -> LogStatisticsState:
        self.applied.append(record.seq)
        return super().evolve(state, record)


class NotedOnly(LogStatistics):
    name = "noted-only"
    types = frozenset({"test.noted"})
