"""The behaviour every DocumentStore shares. Each implementation's test module subclasses
`DocumentStoreContract` and supplies one fixture, `store_factory`: an async callable that opens a
fresh, empty store."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.db import (
    DocumentStore,
    Eq,
    Ge,
    Gt,
    In,
    InvalidCollection,
    InvalidDocument,
    InvalidQuery,
    Le,
    Like,
    Lt,
    Prefix,
    StoreClosed,
)

from .reference import reference_query
from .strategies import CONDITIONS, DOCUMENT_SETS, FIELDS, JSON, OBJECTS, ORDERS, TEXT

StoreFactory = Callable[[], Awaitable[DocumentStore]]

NODES: dict[str, dict[str, Any]] = {
    "n1": {"name": "alpha", "cpu": {"cores": 8, "arch": "amd64"}, "price": 1.5, "up": True},
    "n2": {"name": "beta", "cpu": {"cores": 4, "arch": "arm64"}, "price": 0.5, "up": False},
    "n3": {"name": "gamma", "cpu": {"cores": 16, "arch": "amd64"}, "price": None, "up": True},
    "n4": {"name": "Alphabet", "cpu": {"cores": 4.0}, "labels": ["gpu"], "up": 1},
    "n5": {"name": "delta_1%", "cpu": "none", "price": "1.5"},
}


class DocumentStoreContract:
    @pytest.fixture
    async def store(self, store_factory: StoreFactory) -> AsyncIterator[DocumentStore]:
        store = await store_factory()
        yield store
        await store.close()

    @pytest.fixture
    async def nodes(self, store: DocumentStore) -> DocumentStore:
        for doc_id, doc in NODES.items():
            await store.put("nodes", doc_id, doc)
        return store

    async def ids(self, store: DocumentStore, where: Any = None, **kw: Any) -> list[str]:
        return [d.id for d in await store.query("nodes", where, **kw)]

    # -- documents ---------------------------------------------------------------------------

    async def test_a_document_put_is_got_back_equal(self, store: DocumentStore) -> None:
        doc = {"a": 1, "b": [1, 2.5, "x", None, True, {"c": {}}], "é": "ü ☃"}
        await store.put("c", "id-1", doc)
        assert await store.get("c", "id-1") == doc

    async def test_getting_a_missing_document_gives_none(self, store: DocumentStore) -> None:
        assert await store.get("c", "nope") is None

    async def test_put_replaces_the_whole_document(self, store: DocumentStore) -> None:
        await store.put("c", "x", {"a": 1, "b": 2})
        await store.put("c", "x", {"a": 3})
        assert await store.get("c", "x") == {"a": 3}
        assert await store.count("c") == 1

    async def test_reads_and_writes_never_share_objects(self, store: DocumentStore) -> None:
        doc: dict[str, Any] = {"list": [1]}
        await store.put("c", "x", doc)
        doc["list"].append(2)
        got = await store.get("c", "x")
        assert got == {"list": [1]}
        assert got is not None
        got["list"].append(3)
        assert await store.get("c", "x") == {"list": [1]}

    async def test_delete_says_whether_the_document_existed(self, store: DocumentStore) -> None:
        await store.put("c", "x", {})
        assert await store.delete("c", "x") is True
        assert await store.delete("c", "x") is False
        assert await store.get("c", "x") is None

    async def test_collections_are_separate_namespaces(self, store: DocumentStore) -> None:
        await store.put("a", "same", {"in": "a"})
        await store.put("b", "same", {"in": "b"})
        assert await store.get("a", "same") == {"in": "a"}
        assert await store.collections() == ["a", "b"]
        await store.delete("a", "same")
        assert await store.collections() == ["b"]

    # -- conditions --------------------------------------------------------------------------

    async def test_equality_on_nested_fields(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, [Eq("cpu.arch", "amd64")]) == ["n1", "n3"]
        assert await self.ids(nodes, {"cpu.arch": "amd64", "up": True}) == ["n1", "n3"]

    async def test_equality_is_strict_about_kinds(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, {"up": True}) == ["n1", "n3"]
        assert await self.ids(nodes, {"up": 1}) == ["n4"]
        assert await self.ids(nodes, {"price": 1.5}) == ["n1"]
        assert await self.ids(nodes, {"price": "1.5"}) == ["n5"]

    async def test_ints_and_floats_compare_as_numbers(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, {"cpu.cores": 4}) == ["n2", "n4"]
        assert await self.ids(nodes, {"cpu.cores": 4.0}) == ["n2", "n4"]

    async def test_null_matches_explicit_null_not_missing(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, {"price": None}) == ["n3"]

    async def test_ranges_match_only_their_own_kind(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, {"cpu.cores": {"gt": 4}}) == ["n1", "n3"]
        assert await self.ids(nodes, {"cpu.cores": {"ge": 4, "lt": 16}}) == ["n1", "n2", "n4"]
        assert await self.ids(nodes, [Le("price", 1.5)]) == ["n1", "n2"]
        assert await self.ids(nodes, [Gt("price", "1")]) == ["n5"]
        assert await self.ids(nodes, [Lt("name", "b")]) == ["n1", "n4"]
        assert await self.ids(nodes, [Ge("name", "beta")]) == ["n2", "n3", "n5"]

    async def test_in_matches_any_listed_value(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, [In("cpu.cores", (8, 16, "4"))]) == ["n1", "n3"]
        assert await self.ids(nodes, {"price": {"in": [None, "1.5"]}}) == ["n3", "n5"]

    async def test_prefix_is_case_sensitive(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, [Prefix("name", "Alpha")]) == ["n4"]
        assert await self.ids(nodes, [Prefix("name", "al")]) == ["n1"]
        assert await self.ids(nodes, [Prefix("name", "")]) == ["n1", "n2", "n3", "n4", "n5"]

    async def test_like_has_sql_wildcards_escapes_and_is_case_sensitive(
        self, nodes: DocumentStore
    ) -> None:
        assert await self.ids(nodes, [Like("name", "%a")]) == ["n1", "n2", "n3"]
        assert await self.ids(nodes, [Like("name", "_eta")]) == ["n2"]
        assert await self.ids(nodes, [Like("name", "A%")]) == ["n4"]
        assert await self.ids(nodes, [Like("name", "delta\\_1\\%")]) == ["n5"]
        assert await self.ids(nodes, [Like("name", "delta_1_")]) == ["n5"]
        assert await self.ids(nodes, [Like("name", "delta\\_")]) == []

    async def test_like_treats_glob_characters_literally(self, store: DocumentStore) -> None:
        for i, name in enumerate(["a*b", "a?b", "a[b]", "axb"]):
            await store.put("nodes", f"d{i}", {"name": name})
        assert await self.ids(store, [Like("name", "a*b")]) == ["d0"]
        assert await self.ids(store, [Like("name", "a?b")]) == ["d1"]
        assert await self.ids(store, [Like("name", "a[b]")]) == ["d2"]
        assert await self.ids(store, [Like("name", "a_b")]) == ["d0", "d1", "d3"]

    async def test_arrays_and_objects_match_no_condition(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, [Eq("labels", "gpu")]) == []
        assert await self.ids(nodes, [Eq("cpu", "none")]) == ["n5"]
        assert await self.ids(nodes, [Gt("cpu", "")]) == ["n5"]

    async def test_conditions_and_together(self, nodes: DocumentStore) -> None:
        where = [Eq("up", True), Gt("cpu.cores", 8)]
        assert await self.ids(nodes, where) == ["n3"]
        assert await nodes.count("nodes", where) == 1
        assert await nodes.count("nodes") == 5
        assert await nodes.count("empty") == 0

    # -- ordering and paging -----------------------------------------------------------------

    async def test_order_by_kind_then_value_then_id(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, order_by="price") == ["n3", "n4", "n2", "n1", "n5"]
        assert await self.ids(nodes, order_by="-price") == ["n5", "n1", "n2", "n3", "n4"]

    async def test_order_by_several_fields(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, order_by=["-cpu.cores", "name"]) == [
            "n3", "n1", "n4", "n2", "n5",
        ]  # fmt: skip

    async def test_limit_and_offset_page_through_results(self, nodes: DocumentStore) -> None:
        assert await self.ids(nodes, limit=2) == ["n1", "n2"]
        assert await self.ids(nodes, limit=2, offset=2) == ["n3", "n4"]
        assert await self.ids(nodes, offset=4) == ["n5"]
        assert await self.ids(nodes, limit=0) == []

    # -- indexes -----------------------------------------------------------------------------

    async def test_indexes_are_idempotent_listed_and_do_not_change_results(
        self, nodes: DocumentStore
    ) -> None:
        before = await self.ids(nodes, {"cpu.cores": {"in": [4, 16]}})
        await nodes.create_index("nodes", "cpu.cores")
        await nodes.create_index("nodes", "cpu.cores")
        await nodes.create_index("nodes", "name")
        assert await nodes.indexes("nodes") == ["cpu.cores", "name"]
        assert await self.ids(nodes, {"cpu.cores": {"in": [4, 16]}}) == before
        await nodes.put("nodes", "n2", {"cpu": {"cores": 32}})
        await nodes.delete("nodes", "n4")
        assert await self.ids(nodes, {"cpu.cores": 4}) == []
        assert await self.ids(nodes, {"cpu.cores": 32}) == ["n2"]
        assert await self.ids(nodes, {"name": "alpha"}) == ["n1"]

    # -- bad input ---------------------------------------------------------------------------

    @pytest.mark.parametrize("name", ["", "1abc", "a b", "a/b", "x" * 65, "nodes\n", None])
    async def test_bad_collection_names_are_rejected(self, store: DocumentStore, name: Any) -> None:
        with pytest.raises(InvalidCollection, match="not a collection name"):
            await store.put(name, "x", {})
        with pytest.raises(InvalidCollection):
            await store.query(name)

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            ([1, 2], "not a JSON object"),
            ({"a": {1, 2}}, "field 'a': set is not a JSON value"),
            ({"a": {"b": b"x"}}, "field 'a.b': bytes"),
            ({"a": [0, math.nan]}, r"field 'a\[1\]': nan is not a JSON number"),
            ({"a": math.inf}, "inf is not a JSON number"),
            ({"a": 2**64}, "does not fit 64 bits"),
            ({"a": "x\x00y"}, "NUL"),
            ({"a": "\ud800"}, "lone surrogate"),
            ({1: "x"}, "keys are strings"),
        ],
    )
    async def test_non_json_documents_are_rejected_naming_the_field(
        self, store: DocumentStore, doc: Any, message: str
    ) -> None:
        await store.put("c", "x", {"kept": True})
        with pytest.raises(InvalidDocument, match=message):
            await store.put("c", "x", doc)
        assert await store.get("c", "x") == {"kept": True}

    async def test_too_deep_documents_are_rejected(self, store: DocumentStore) -> None:
        doc: dict[str, Any] = {}
        for _ in range(100):
            doc = {"a": doc}
        with pytest.raises(InvalidDocument, match="nested deeper"):
            await store.put("c", "x", doc)

    @pytest.mark.parametrize("doc_id", ["", None, 5, "x" * 513, "a\x00"])
    async def test_bad_ids_are_rejected(self, store: DocumentStore, doc_id: Any) -> None:
        with pytest.raises(InvalidDocument, match="id"):
            await store.put("c", doc_id, {})

    @pytest.mark.parametrize(
        ("where", "message"),
        [
            ({"a": {"gtx": 1}}, "field 'a': unknown operator 'gtx'; use one of eq, lt"),
            ({"a..b": 1}, "field 'a..b': segment ''"),
            ({"a b": 1}, "segment 'a b'"),
            ({"a": {"gt": True}}, "gt compares numbers or strings"),
            ({"a": {"lt": None}}, "lt compares numbers or strings"),
            ({"a": [1, 2]}, "eq takes null, a boolean, a number or a string"),
            ({"a": {"in": 5}}, "in takes a list"),
            ({"a": {"in": []}}, "at least one value"),
            ({"a": {"prefix": 5}}, "prefix takes a string"),
            ({"a": {"like": "x\\"}}, "lone backslash"),
            ({"a": {}}, "empty operator mapping"),
            ({"a": math.nan}, "not a JSON number"),
            ("a = 1", "where is a dict or a list"),
            (["a"], "where lists conditions"),
        ],
    )
    async def test_bad_queries_name_the_field_and_operator(
        self, store: DocumentStore, where: Any, message: str
    ) -> None:
        with pytest.raises(InvalidQuery, match=message):
            await store.query("c", where)

    @pytest.mark.parametrize(
        ("kw", "message"),
        [
            ({"limit": -1}, "limit"),
            ({"offset": -1}, "offset"),
            ({"limit": True}, "limit"),
            ({"order_by": "a..b"}, "segment"),
            ({"order_by": [1]}, "order_by takes field names"),
        ],
    )
    async def test_bad_ordering_and_paging_are_rejected(
        self, store: DocumentStore, kw: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(InvalidQuery, match=message):
            await store.query("c", **kw)

    async def test_bad_index_fields_are_rejected(self, store: DocumentStore) -> None:
        with pytest.raises(InvalidQuery, match="segment"):
            await store.create_index("c", "a.'b")

    async def test_a_closed_store_refuses_work(self, store_factory: StoreFactory) -> None:
        async with await store_factory() as store:
            await store.put("c", "x", {})
        await store.close()
        with pytest.raises(StoreClosed):
            await store.get("c", "x")
        with pytest.raises(StoreClosed):
            await store.put("c", "y", {})

    async def test_concurrent_writers_all_land(self, store: DocumentStore) -> None:
        await asyncio.gather(*(store.put("c", f"d{i:03}", {"i": i}) for i in range(100)))
        assert await store.count("c", {"i": {"ge": 50}}) == 50

    # -- properties --------------------------------------------------------------------------

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[
            # The contract runs under each store's subclass, by design.
            HealthCheck.differing_executors,
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )
    @given(st.data())
    def test_query_results_equal_the_reference_filter(
        self, store_factory: StoreFactory, data: st.DataObject
    ) -> None:
        docs = data.draw(DOCUMENT_SETS)
        conditions: list[tuple[str, str, Any]] = data.draw(st.lists(CONDITIONS, max_size=3))
        order_by = data.draw(st.lists(ORDERS, max_size=2, unique=True))
        limit = data.draw(st.none() | st.integers(0, 6))
        offset = data.draw(st.integers(0, 4))
        indexed = data.draw(st.lists(st.sampled_from(FIELDS), max_size=2))

        async def run() -> list[str]:
            store = await store_factory()
            try:
                for field in indexed:
                    await store.create_index("c", field)
                for doc_id, doc in docs.items():
                    await store.put("c", doc_id, doc)
                where: dict[str, dict[str, Any]] = {}
                objects: list[Any] = []
                for field, op, value in conditions:
                    objects.append(OBJECTS[op](field, tuple(value) if op == "in" else value))
                    where.setdefault(field, {})[op] = value
                found = await store.query(
                    "c", objects, order_by=order_by, limit=limit, offset=offset
                )
                if len(where) == len(conditions):
                    again = await store.query(
                        "c", where, order_by=order_by, limit=limit, offset=offset
                    )
                    assert again == found
                assert await store.count("c", objects) == len(
                    reference_query(docs, conditions, [], None, 0)
                )
                for item in found:
                    assert item.doc == docs[item.id]
                return [d.id for d in found]
            finally:
                await store.close()

        assert asyncio.run(run()) == reference_query(docs, conditions, order_by, limit, offset)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[
            # The contract runs under each store's subclass, by design.
            HealthCheck.differing_executors,
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )
    @given(st.dictionaries(TEXT, JSON, max_size=5))
    def test_any_json_document_round_trips_exactly(
        self, store_factory: StoreFactory, doc: dict[str, Any]
    ) -> None:
        async def run() -> Any:
            store = await store_factory()
            try:
                await store.put("c", "x", doc)
                return await store.get("c", "x")
            finally:
                await store.close()

        assert asyncio.run(run()) == doc
