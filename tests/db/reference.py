"""A deliberately plain Python statement of the query semantics, to check every store against.

Written separately from `nunet.db.matching` so a shared bug cannot hide in both.
"""

from __future__ import annotations

import re
from typing import Any

MISSING = object()


def get_field(doc: dict[str, Any], field: str) -> Any:
    value: Any = doc
    for key in field.split("."):
        if type(value) is not dict or key not in value:
            return MISSING
        value = value[key]
    return value


def kind_of(value: Any) -> str:
    if value is MISSING or value is None:
        return "null"
    if value is True or value is False:
        return "bool"
    if type(value) in (int, float):
        return "number"
    if type(value) is str:
        return "string"
    return "compound"


def equal(field: Any, value: Any) -> bool:
    if field is MISSING:
        return False
    if value is None:
        return field is None
    return kind_of(field) == kind_of(value) and kind_of(field) != "compound" and field == value


def like_to_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    return out


def holds(doc: dict[str, Any], field: str, op: str, value: Any) -> bool:
    actual = get_field(doc, field)
    if op == "eq":
        return equal(actual, value)
    if op == "in":
        return any(equal(actual, v) for v in value)
    if op in ("lt", "le", "gt", "ge"):
        if actual is MISSING or kind_of(actual) != kind_of(value):
            return False
        return bool(
            {
                "lt": actual < value,
                "le": actual <= value,
                "gt": actual > value,
                "ge": actual >= value,
            }[op]
        )
    if op == "prefix":
        return type(actual) is str and actual[: len(value)] == value
    if op == "like":
        return type(actual) is str and re.fullmatch(like_to_regex(value), actual, re.S) is not None
    raise AssertionError(op)


def rank(value: Any) -> tuple[int, Any]:
    order = {"null": 0, "bool": 1, "number": 2, "string": 3, "compound": 4}
    k = kind_of(value)
    return (order[k], value if k in ("bool", "number", "string") else 0)


def reference_query(
    docs: dict[str, dict[str, Any]],
    conditions: list[tuple[str, str, Any]],
    order_by: list[str],
    limit: int | None,
    offset: int,
) -> list[str]:
    """Ids of the documents a query must return, in order."""
    ids = sorted(i for i, d in docs.items() if all(holds(d, f, o, v) for f, o, v in conditions))
    for spec in reversed(order_by):
        field = spec.lstrip("-")
        ids.sort(key=lambda i: rank(get_field(docs[i], field)), reverse=spec.startswith("-"))
    return ids[offset:] if limit is None else ids[offset : offset + limit]
