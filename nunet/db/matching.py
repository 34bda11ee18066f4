"""Evaluating conditions and orderings on documents in Python: the in-memory store's engine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from nunet.db.document import Document
from nunet.db.query import Condition, Eq, Ge, Gt, In, Le, Like, Lt, OrderBy, Prefix, like_tokens

_MISSING = object()

# Kind ranks for ordering: missing/null < booleans < numbers < strings < arrays/objects.
NULL, BOOLEAN, NUMBER, STRING, COMPOUND = range(5)


def lookup(doc: Document, path: Sequence[str]) -> Any:
    value: Any = doc
    for segment in path:
        if not isinstance(value, dict) or segment not in value:
            return _MISSING
        value = value[segment]
    return value


def kind(value: Any) -> int:
    if value is _MISSING or value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return COMPOUND


def scalar_key(value: Any) -> tuple[int, Any] | None:
    """A hashable key under which equal values (by the query rules) coincide; None if none."""
    if value is _MISSING:
        return None
    rank = kind(value)
    return None if rank == COMPOUND else (rank, value)


def matches(doc: Document, conditions: Sequence[Condition]) -> bool:
    return all(_holds(lookup(doc, c.path), c) for c in conditions)


def _same(field: Any, value: Any) -> bool:
    return field is not _MISSING and kind(field) == kind(value) != COMPOUND and field == value


def _holds(field: Any, condition: Condition) -> bool:
    if isinstance(condition, Eq):
        return _same(field, condition.value)
    if isinstance(condition, In):
        return any(_same(field, v) for v in condition.values)
    if isinstance(condition, Lt | Le | Gt | Ge):
        if field is _MISSING or kind(field) != kind(condition.value):
            return False
        if isinstance(condition, Lt):
            return bool(field < condition.value)
        if isinstance(condition, Le):
            return bool(field <= condition.value)
        if isinstance(condition, Gt):
            return bool(field > condition.value)
        return bool(field >= condition.value)
    if isinstance(condition, Prefix):
        return isinstance(field, str) and field.startswith(condition.prefix)
    if isinstance(condition, Like):
        return isinstance(field, str) and like_regex(condition.pattern).fullmatch(field) is not None
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


@lru_cache(maxsize=256)
def like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for token, char in like_tokens("", pattern):
        parts.append(".*" if token == "any" else "." if token == "one" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def sort_documents(items: list[tuple[str, Document]], orders: Sequence[OrderBy]) -> None:
    """Sort (id, doc) pairs in place by `orders`, ties by id ascending."""
    items.sort(key=lambda item: item[0])
    for order in reversed(orders):
        items.sort(
            key=lambda item: _order_key(lookup(item[1], order.path)), reverse=order.descending
        )


def _order_key(value: Any) -> tuple[int, Any]:
    rank = kind(value)
    return (rank, None if rank in (NULL, COMPOUND) else value)
