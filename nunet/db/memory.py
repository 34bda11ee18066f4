"""A real in-memory document store: dicts of JSON copies, hash indexes for equality conditions."""

from __future__ import annotations

from collections.abc import Sequence

from nunet.db.document import (
    Document,
    StoredDocument,
    check_collection,
    check_document,
    check_id,
    decode_document,
    encode_document,
)
from nunet.db.errors import StoreClosed
from nunet.db.matching import lookup, matches, scalar_key, sort_documents
from nunet.db.query import (
    Condition,
    Eq,
    In,
    Where,
    check_paging,
    parse_field,
    parse_order,
    parse_where,
)
from nunet.db.store import DocumentStore

_Index = dict[tuple[int, object], set[str]]


class MemoryDocumentStore(DocumentStore):
    """Documents are kept as their JSON text, so reads and writes never share objects."""

    def __init__(self) -> None:
        self._collections: dict[str, dict[str, str]] = {}
        self._indexes: dict[str, dict[str, _Index]] = {}
        self._closed = False

    async def put(self, collection: str, doc_id: str, doc: Document) -> None:
        self._open()
        check_collection(collection)
        check_id(collection, doc_id)
        check_document(collection, doc_id, doc)
        text = encode_document(doc)
        docs = self._collections.setdefault(collection, {})
        self._unindex(collection, doc_id)
        docs[doc_id] = text
        self._index(collection, doc_id, decode_document(text))

    async def get(self, collection: str, doc_id: str) -> Document | None:
        self._open()
        check_collection(collection)
        check_id(collection, doc_id)
        text = self._collections.get(collection, {}).get(doc_id)
        return None if text is None else decode_document(text)

    async def delete(self, collection: str, doc_id: str) -> bool:
        self._open()
        check_collection(collection)
        check_id(collection, doc_id)
        docs = self._collections.get(collection, {})
        if doc_id not in docs:
            return False
        self._unindex(collection, doc_id)
        del docs[doc_id]
        if not docs:
            del self._collections[collection]
        return True

    async def query(
        self,
        collection: str,
        where: Where = None,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredDocument]:
        self._open()
        conditions = parse_where(where)
        orders = parse_order(order_by)
        check_paging(limit, offset)
        found = self._select(check_collection(collection), conditions)
        sort_documents(found, orders)
        end = None if limit is None else offset + limit
        return [StoredDocument(i, d) for i, d in found[offset:end]]

    async def count(self, collection: str, where: Where = None) -> int:
        self._open()
        return len(self._select(check_collection(collection), parse_where(where)))

    async def create_index(self, collection: str, field: str) -> None:
        self._open()
        check_collection(collection)
        path = parse_field(field)
        indexes = self._indexes.setdefault(collection, {})
        if field in indexes:
            return
        index: _Index = {}
        for doc_id, text in self._collections.get(collection, {}).items():
            key = scalar_key(lookup(decode_document(text), path))
            if key is not None:
                index.setdefault(key, set()).add(doc_id)
        indexes[field] = index

    async def indexes(self, collection: str) -> list[str]:
        self._open()
        return sorted(self._indexes.get(check_collection(collection), {}))

    async def collections(self) -> list[str]:
        self._open()
        return sorted(self._collections)

    async def close(self) -> None:
        self._closed = True

    def _open(self) -> None:
        if self._closed:
            raise StoreClosed("the memory document store is closed")

    def _select(
        self, collection: str, conditions: Sequence[Condition]
    ) -> list[tuple[str, Document]]:
        docs = self._collections.get(collection, {})
        candidates = self._candidates(collection, conditions)
        ids = docs.keys() if candidates is None else candidates
        found = []
        for doc_id in ids:
            doc = decode_document(docs[doc_id])
            if matches(doc, conditions):
                found.append((doc_id, doc))
        return found

    def _candidates(self, collection: str, conditions: Sequence[Condition]) -> set[str] | None:
        """Ids an index narrows the search to, or None to scan the collection."""
        indexes = self._indexes.get(collection, {})
        best: set[str] | None = None
        for condition in conditions:
            index = indexes.get(condition.field)
            if index is None or not isinstance(condition, Eq | In):
                continue
            values = (condition.value,) if isinstance(condition, Eq) else condition.values
            ids: set[str] = set()
            for value in values:
                key = scalar_key(value)
                if key is not None:
                    ids |= index.get(key, set())
            best = ids if best is None else best & ids
        return best

    def _index(self, collection: str, doc_id: str, doc: Document) -> None:
        for field, index in self._indexes.get(collection, {}).items():
            key = scalar_key(lookup(doc, tuple(field.split("."))))
            if key is not None:
                index.setdefault(key, set()).add(doc_id)

    def _unindex(self, collection: str, doc_id: str) -> None:
        text = self._collections.get(collection, {}).get(doc_id)
        if text is None:
            return
        doc = decode_document(text)
        for field, index in self._indexes.get(collection, {}).items():
            key = scalar_key(lookup(doc, tuple(field.split("."))))
            if key is not None:
                index.get(key, set()).discard(doc_id)
