"""Errors raised at the document-store boundary; each names the collection, field or file at fault."""

from nunet.errors import NunetError


class DocumentStoreError(NunetError):
    """Something about a document store operation is wrong."""


class InvalidDocument(DocumentStoreError):
    """A document (or id) is not storable JSON: the message names the field and the value's flaw."""


class InvalidCollection(DocumentStoreError):
    """A collection name is not acceptable."""


class InvalidQuery(DocumentStoreError):
    """A condition, field path, operator, ordering or paging value is not acceptable."""


class CorruptStore(DocumentStoreError):
    """The store's file cannot be read as a document store; it is left untouched."""


class StoreClosed(DocumentStoreError):
    """The store was closed; open a new one."""
