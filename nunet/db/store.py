"""The document store interface: JSON documents in named collections, queried by field conditions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from nunet.db.document import Document, StoredDocument
from nunet.db.query import Where


class DocumentStore(ABC):
    """Async, so an implementation may do blocking I/O off the event loop.

    Collections come into being with their first document. `put` replaces a whole document;
    every read returns a private copy. See `nunet.db.query` for the condition semantics.
    """

    @abstractmethod
    async def put(self, collection: str, doc_id: str, doc: Document) -> None:
        """Insert or replace document `doc_id`; raise InvalidDocument naming a bad field."""

    @abstractmethod
    async def get(self, collection: str, doc_id: str) -> Document | None:
        """The document, or None if there is none with that id."""

    @abstractmethod
    async def delete(self, collection: str, doc_id: str) -> bool:
        """Remove the document; True if it existed."""

    @abstractmethod
    async def query(
        self,
        collection: str,
        where: Where = None,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredDocument]:
        """Documents satisfying every condition in `where`, ordered, then paged."""

    @abstractmethod
    async def count(self, collection: str, where: Where = None) -> int:
        """How many documents satisfy `where`."""

    @abstractmethod
    async def create_index(self, collection: str, field: str) -> None:
        """Index `field` of `collection` to speed conditions on it; idempotent."""

    @abstractmethod
    async def indexes(self, collection: str) -> list[str]:
        """The indexed fields of `collection`, sorted."""

    @abstractmethod
    async def collections(self) -> list[str]:
        """Names of the collections holding at least one document, sorted."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources; idempotent. Later calls raise StoreClosed."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
