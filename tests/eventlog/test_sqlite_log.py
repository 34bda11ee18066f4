"""SQLiteEventLog against the EventLog contract, plus what only the embedded store does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nunet.eventlog import EventLog, open_sqlite_log
from tests.eventlog.contract import EventLogContract, LogBackend


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
