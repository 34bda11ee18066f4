"""Where projections keep (position, state): one row per projection, written atomically."""

from __future__ import annotations

import abc
import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nunet.eventlog.errors import CorruptLog, LogClosed, LogIsReadOnly, LogNotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projections (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    state BLOB NOT NULL
)
"""


class ProjectionStore(abc.ABC):
    """Stored projection positions and states."""

    @abc.abstractmethod
    async def load(self, name: str) -> tuple[int, bytes] | None:
        """(position, encoded state) of projection `name`, or None if never saved."""

    @abc.abstractmethod
    async def save(self, name: str, position: int, state: bytes) -> None:
        """Store position and state together: both or neither."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class SQLiteProjectionStore(ProjectionStore):
    """Projections in an SQLite file (a node keeps it next to its log: <home>/log/projections.db)."""

    def __init__(self, path: Path, read_only: bool) -> None:
        self.path = path
        self._read_only = read_only
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="projection-store")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path, *, read_only: bool = False) -> SQLiteProjectionStore:
        store = cls(Path(path), read_only)
        try:
            store._conn = await store._call(store._connect)
        except BaseException:
            store._thread.shutdown(wait=False)
            raise
        return store

    def _connect(self) -> sqlite3.Connection:
        try:
            if self._read_only:
                if not self.path.exists():
                    raise LogNotFound(f"no projection store at {self.path}")
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
                conn.execute("SELECT count(*) FROM projections").fetchone()
                return conn
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(_SCHEMA)
            return conn
        except sqlite3.DatabaseError as exc:
            raise CorruptLog(f"{self.path} is not a readable projection store: {exc}") from None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LogClosed(f"{self.path} is closed")
        return self._conn

    async def load(self, name: str) -> tuple[int, bytes] | None:
        conn = self._connection()

        def select() -> tuple[int, bytes] | None:
            row = conn.execute(
                "SELECT position, state FROM projections WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]))

        result: tuple[int, bytes] | None = await self._call(select)
        return result

    async def save(self, name: str, position: int, state: bytes) -> None:
        if self._read_only:
            raise LogIsReadOnly(f"{self.path} is open read-only")
        conn = self._connection()
        # One statement is one transaction: position and state change together.
        await self._call(
            conn.execute,
            "INSERT INTO projections (name, position, state) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state",
            (name, position, state),
        )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._call(conn.close)
        self._thread.shutdown(wait=False)
