"""The local document store: JSON documents (config, telemetry, logs) in collections, searchable."""

from nunet.db.document import Document, StoredDocument
from nunet.db.errors import (
    CorruptStore,
    DocumentStoreError,
    InvalidCollection,
    InvalidDocument,
    InvalidQuery,
    StoreClosed,
)
from nunet.db.memory import MemoryDocumentStore
from nunet.db.query import (
    Condition,
    Eq,
    Ge,
    Gt,
    In,
    Le,
    Like,
    Lt,
    OrderBy,
    Prefix,
    Where,
    parse_order,
    parse_where,
)
from nunet.db.sqlite import SQLiteDocumentStore
from nunet.db.store import DocumentStore

__all__ = [
    "Condition",
    "CorruptStore",
    "Document",
    "DocumentStore",
    "DocumentStoreError",
    "Eq",
    "Ge",
    "Gt",
    "In",
    "InvalidCollection",
    "InvalidDocument",
    "InvalidQuery",
    "Le",
    "Like",
    "Lt",
    "MemoryDocumentStore",
    "OrderBy",
    "Prefix",
    "SQLiteDocumentStore",
    "StoreClosed",
    "StoredDocument",
    "Where",
    "parse_order",
    "parse_where",
]
