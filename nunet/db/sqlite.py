"""The embedded document store: one SQLite file (WAL), JSON1 queries, expression indexes.

SQLite calls block, so each store owns one worker thread that holds the connection and runs every
call; the event loop only awaits. A file that is not a readable store raises CorruptStore and is
never modified.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from nunet.db.document import (
    Document,
    StoredDocument,
    check_collection,
    check_document,
    check_id,
    decode_document,
    encode_document,
)
from nunet.db.errors import CorruptStore, DocumentStoreError, StoreClosed
from nunet.db.query import Where, check_paging, parse_field, parse_order, parse_where
from nunet.db.sql import extract, order_sql, where_sql
from nunet.db.store import DocumentStore

FORMAT = "nunet-docstore/1"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nunet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (collection, id)
);
CREATE TABLE IF NOT EXISTS nunet_indexes (
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    PRIMARY KEY (collection, field)
);
"""


class SQLiteDocumentStore(DocumentStore):
    """Open with `await SQLiteDocumentStore.open(path)`; `":memory:"` gives a private database."""

    def __init__(self, path: Path | str, executor: ThreadPoolExecutor) -> None:
        self._path = str(path)
        self._executor = executor
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str, *, check: bool = False) -> SQLiteDocumentStore:
        """Open or create the store at `path`; `check=True` also runs SQLite's quick_check."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nunet-db")
        store = cls(path, executor)
        try:
            await store._call(store._connect, check)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return store

    @property
    def path(self) -> str:
        return self._path

    async def put(self, collection: str, doc_id: str, doc: Document) -> None:
        check_collection(collection)
        check_id(collection, doc_id)
        check_document(collection, doc_id, doc)
        text = encode_document(doc)
        await self._run(
            "INSERT INTO documents (collection, id, body) VALUES (?, ?, ?)"
            " ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body",
            (collection, doc_id, text),
        )

    async def get(self, collection: str, doc_id: str) -> Document | None:
        check_collection(collection)
        check_id(collection, doc_id)
        rows = await self._rows(
            "SELECT body FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)
        )
        return self._decode(collection, doc_id, rows[0][0]) if rows else None

    async def delete(self, collection: str, doc_id: str) -> bool:
        check_collection(collection)
        check_id(collection, doc_id)
        changed = await self._run(
            "DELETE FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)
        )
        return changed > 0

    async def query(
        self,
        collection: str,
        where: Where = None,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredDocument]:
        sql, params = self.query_sql(
            collection, where, order_by=order_by, limit=limit, offset=offset
        )
        rows = await self._rows(sql, params)
        return [StoredDocument(i, self._decode(collection, i, body)) for i, body in rows]

    def query_sql(
        self,
        collection: str,
        where: Where = None,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[str, list[Any]]:
        """The SELECT a query runs, with its parameters (for EXPLAIN and debugging)."""
        check_collection(collection)
        conditions = parse_where(where)
        orders = parse_order(order_by)
        check_paging(limit, offset)
        terms, params = where_sql(conditions)
        sql = (
            f"SELECT id, body FROM documents WHERE collection = ? AND {terms}"
            f" ORDER BY {order_sql(orders, filtered=bool(conditions))} LIMIT ? OFFSET ?"
        )
        return sql, [collection, *params, -1 if limit is None else limit, offset]

    async def count(self, collection: str, where: Where = None) -> int:
        check_collection(collection)
        terms, params = where_sql(parse_where(where))
        rows = await self._rows(
            f"SELECT count(*) FROM documents WHERE collection = ? AND {terms}",
            [collection, *params],
        )
        return int(rows[0][0])

    async def create_index(self, collection: str, field: str) -> None:
        check_collection(collection)
        path = parse_field(field)
        name = f"ix:{collection}:{field}"

        def create(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON documents (collection, {extract(path)})'
                )
                conn.execute(
                    "INSERT OR IGNORE INTO nunet_indexes (collection, field) VALUES (?, ?)",
                    (collection, field),
                )

        await self._with_conn(create)

    async def indexes(self, collection: str) -> list[str]:
        check_collection(collection)
        rows = await self._rows(
            "SELECT field FROM nunet_indexes WHERE collection = ? ORDER BY field", (collection,)
        )
        return [str(r[0]) for r in rows]

    async def collections(self) -> list[str]:
        rows = await self._rows("SELECT DISTINCT collection FROM documents ORDER BY collection", ())
        return [str(r[0]) for r in rows]

    async def explain(self, sql: str, params: Sequence[Any]) -> list[str]:
        """SQLite's query plan for `sql`, one line per step."""
        rows = await self._rows(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[-1]) for r in rows]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=False)

    # -- worker-thread side -------------------------------------------------------------------

    def _connect(self, check: bool) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            raise DocumentStoreError(f"cannot open document store {self._path}: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("SELECT json_extract('{}', '$')")
            # Read-only checks first: a file that is not ours must not be touched.
            self._check_format(conn)
            if check:
                (result,) = conn.execute("PRAGMA quick_check(1)").fetchone()
                if result != "ok":
                    raise sqlite3.DatabaseError(f"quick_check: {result}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._create_schema(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "json" in str(exc).lower():
                raise DocumentStoreError(f"this SQLite lacks the JSON1 functions: {exc}") from None
            raise self._corrupt(exc) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._corrupt(exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _check_format(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "nunet_meta" not in tables:
            raise CorruptStore(
                f"{self._path} is an SQLite database but not a nunet document store"
                f" (tables: {', '.join(sorted(tables))}); it was left untouched"
            )
        if "nunet_meta" in tables:
            row = conn.execute("SELECT value FROM nunet_meta WHERE key = 'format'").fetchone()
            if row is None or row[0] != FORMAT:
                raise CorruptStore(
                    f"{self._path} holds format {row[0] if row else None!r}, not {FORMAT};"
                    " it was left untouched"
                )

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.executescript(
            "BEGIN IMMEDIATE;"
            + _SCHEMA
            + f"INSERT OR IGNORE INTO nunet_meta (key, value) VALUES ('format', '{FORMAT}');"
            + "COMMIT;"
        )

    def _corrupt(self, exc: BaseException) -> CorruptStore:
        return CorruptStore(
            f"{self._path} is not a readable nunet document store ({exc}); it was left untouched"
        )

    # -- event-loop side ----------------------------------------------------------------------

    def _decode(self, collection: str, doc_id: str, body: str) -> Document:
        try:
            return decode_document(body)
        except ValueError as exc:
            raise CorruptStore(
                f"{self._path}: document {collection}/{doc_id} is damaged: {exc}"
            ) from None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def _with_conn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._conn is None:
            raise StoreClosed(f"the document store {self._path} is closed")
        conn = self._conn

        def guarded() -> T:
            try:
                return fn(conn)
            except sqlite3.OperationalError as exc:
                raise DocumentStoreError(f"document store {self._path}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None

        return await self._call(guarded)

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await self._with_conn(lambda conn: conn.execute(sql, params).fetchall())

    async def _run(self, sql: str, params: Sequence[Any]) -> int:
        return await self._with_conn(lambda conn: conn.execute(sql, params).rowcount)
