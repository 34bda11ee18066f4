"""The document-store contract against SQLite, plus what only a file-backed store promises."""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

import pytest

from nunet.db import (
    CorruptStore,
    DocumentStore,
    DocumentStoreError,
    Eq,
    Gt,
    Prefix,
    SQLiteDocumentStore,
)

from .contract import DocumentStoreContract, StoreFactory


class TestSQLiteDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        counter = itertools.count()

        async def open_store() -> DocumentStore:
            return await SQLiteDocumentStore.open(tmp_path / f"docs-{next(counter)}.db")

        return open_store


async def test_an_indexed_field_is_searched_through_its_index(tmp_path: Path) -> None:
    store = await SQLiteDocumentStore.open(tmp_path / "docs.db")
    try:
        for i in range(50):
            await store.put("nodes", f"n{i}", {"cpu": {"cores": i}, "name": f"node-{i}"})
        sql, params = store.query_sql("nodes", [Eq("cpu.cores", 4)])
        assert not any("ix:" in step for step in await store.explain(sql, params))
        await store.create_index("nodes", "cpu.cores")
        await store.create_index("nodes", "name")
        for where in ([Eq("cpu.cores", 4)], [Gt("cpu.cores", 40)], {"cpu.cores": {"in": [1, 2]}}):
            sql, params = store.query_sql("nodes", where)
            plan = " ".join(await store.explain(sql, params))
            assert "USING INDEX ix:nodes:cpu.cores" in plan, plan
        sql, params = store.query_sql("nodes", [Prefix("name", "node-1")])
        assert "USING INDEX ix:nodes:name" in " ".join(await store.explain(sql, params))
        assert [d.id for d in await store.query("nodes", [Prefix("name", "node-4")])] == [
            "n4", "n40", "n41", "n42", "n43", "n44", "n45", "n46", "n47", "n48", "n49",
        ]  # fmt: skip
    finally:
        await store.close()


async def test_documents_and_indexes_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "docs.db"
    async with await SQLiteDocumentStore.open(path) as store:
        await store.put("c", "x", {"a": 1})
        await store.create_index("c", "a")
    async with await SQLiteDocumentStore.open(path, check=True) as store:
        assert await store.get("c", "x") == {"a": 1}
        assert await store.indexes("c") == ["a"]


async def test_the_store_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "docs.db"
    async with await SQLiteDocumentStore.open(path):
        with sqlite3.connect(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_corrupted_file_is_a_clear_error_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "docs.db"
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    with pytest.raises(CorruptStore, match=r"not a readable nunet document store.*left untouched"):
        await SQLiteDocumentStore.open(path)
    assert path.read_bytes() == garbage


async def test_a_damaged_page_is_found_by_check_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "docs.db"
    async with await SQLiteDocumentStore.open(path) as store:
        for i in range(200):
            await store.put("c", f"d{i}", {"text": "x" * 200, "i": i})
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    page = 4096
    raw[3 * page : 4 * page] = b"\xff" * page
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptStore):
        await SQLiteDocumentStore.open(path, check=True)
    assert path.read_bytes() == bytes(raw)


async def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(CorruptStore, match=r"not a nunet document store.*accounts"):
        await SQLiteDocumentStore.open(path)
    assert path.read_bytes() == before


async def test_an_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentStoreError, match=r"cannot open document store .*docs\.db"):
        await SQLiteDocumentStore.open(tmp_path / "missing-dir" / "docs.db")
