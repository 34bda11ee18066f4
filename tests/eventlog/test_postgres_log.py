"""PostgresEventLog against the EventLog contract, on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from nunet.eventlog import EventLog, LogIsReadOnly, verify_log
from nunet.eventlog.postgres import PostgresEventLog
from tests.eventlog.contract import EventLogContract, LogBackend
from tests.eventlog.samples import Pinged


class PostgresBackend(LogBackend):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.log_name = f"test-{uuid.uuid4().hex}"

    async def open(self) -> EventLog:
        return await PostgresEventLog.open(self.dsn, log_name=self.log_name)

    async def _tamper(self, sql: str, *params: object) -> None:
        # The table refuses updates and deletes by trigger; a forger would switch them off.
        conn = await asyncpg.connect(self.dsn)
        try:
            async with conn.transaction():
                await conn.execute("ALTER TABLE nunet_events DISABLE TRIGGER USER")
                await conn.execute(sql, self.log_name, *params)
                await conn.execute("ALTER TABLE nunet_events ENABLE TRIGGER USER")
        finally:
            await conn.close()

    async def set_fields(self, seq: int, **fields: object) -> None:
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=3))
        await self._tamper(
            f"UPDATE nunet_events SET {assignments} WHERE log_name = $1 AND seq = $2",
            seq,
            *fields.values(),
        )

    async def delete(self, seq: int) -> None:
        await self._tamper("DELETE FROM nunet_events WHERE log_name = $1 AND seq = $2", seq)

    async def delete_after(self, seq: int) -> None:
        await self._tamper("DELETE FROM nunet_events WHERE log_name = $1 AND seq > $2", seq)


class TestPostgresEventLog(EventLogContract):
    @pytest.fixture
    def backend(self, postgres_dsn: str) -> LogBackend:
        return PostgresBackend(postgres_dsn)


async def test_a_read_only_view_sees_and_tails_what_the_writer_commits(postgres_dsn: str) -> None:
    name = f"view-{uuid.uuid4().hex[:8]}"
    writer = await PostgresEventLog.open(postgres_dsn, log_name=name)
    view = await PostgresEventLog.open(postgres_dsn, log_name=name, read_only=True)
    try:
        first = await writer.append(Pinged(n=1))
        assert await view.head() == (first.seq, first.hash)
        with pytest.raises(LogIsReadOnly):
            await view.append(Pinged(n=2))
        tail = view.tail(1)
        async with asyncio.timeout(10):
            assert (await anext(tail)).hash == first.hash
            second = await writer.append(Pinged(n=2))
            assert (await anext(tail)).hash == second.hash  # picked up by polling
        await tail.aclose()  # type: ignore[attr-defined]
        assert (await verify_log(view)).ok
    finally:
        await view.close()
        await writer.close()
