"""What may be stored: JSON objects of JSON values, under a named collection and a string id.

Beyond JSON itself: integers fit in 64 bits, floats are finite, strings hold no NUL character
(SQLite's text functions stop at NUL) and are valid Unicode, nesting is at most 64 deep.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nunet.db.errors import InvalidCollection, InvalidDocument

Document = dict[str, Any]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64
MAX_ID_LENGTH = 512
_COLLECTION = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One query result: the document's id and a private copy of its body."""

    id: str
    doc: Document


def check_collection(name: Any) -> str:
    if not isinstance(name, str) or not _COLLECTION.fullmatch(name):
        raise InvalidCollection(
            f"{name!r} is not a collection name: start with a letter, then letters, digits,"
            " '_', '.' or '-' (at most 64)"
        )
    return name


def check_id(collection: str, doc_id: Any) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidDocument(f"{collection}: a document id is a non-empty string, not {doc_id!r}")
    if len(doc_id) > MAX_ID_LENGTH:
        raise InvalidDocument(f"{collection}: document id is longer than {MAX_ID_LENGTH}")
    _check_text(doc_id, f"{collection}: document id")
    return doc_id


def check_document(collection: str, doc_id: str, doc: Any) -> None:
    """Raise InvalidDocument naming the first field whose value is not storable JSON."""
    where = f"document {collection}/{doc_id}"
    if not isinstance(doc, dict):
        raise InvalidDocument(f"{where} is a {type(doc).__name__}, not a JSON object (dict)")
    _check_value(doc, where, "", 0)


def encode_document(doc: Document) -> str:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode_document(text: str) -> Document:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored document is not a JSON object")
    return value


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _check_value(value: Any, where: str, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidDocument(f"{where}: field {path!r} is nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidDocument(f"{where}: field {path!r}: integer {value} does not fit 64 bits")
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidDocument(f"{where}: field {path!r}: {value} is not a JSON number")
        return
    if isinstance(value, str):
        _check_text(value, f"{where}: field {path!r}")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidDocument(
                    f"{where}: field {path!r} has key {key!r}; JSON object keys are strings"
                )
            _check_text(key, f"{where}: key {key!r}")
            _check_value(item, where, f"{path}.{key}" if path else key, depth + 1)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(item, where, f"{path}[{i}]", depth + 1)
        return
    raise InvalidDocument(
        f"{where}: field {path!r}: {type(value).__name__} is not a JSON value"
        " (use dict, list, str, int, float, bool or None)"
    )


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise InvalidDocument(f"{what} contains a NUL character, which is not supported")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDocument(f"{what} is not valid Unicode (a lone surrogate)") from None
