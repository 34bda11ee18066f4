"""The document-store contract against the in-memory store."""

from __future__ import annotations

import pytest

from nunet.db import DocumentStore, MemoryDocumentStore

from .contract import DocumentStoreContract, StoreFactory


class TestMemoryDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        async def open_store() -> DocumentStore:
            return MemoryDocumentStore()

        return open_store
