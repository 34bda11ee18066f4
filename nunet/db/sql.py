"""Translating conditions and orderings into SQLite JSON1 SQL with the same semantics as Python.

Field paths are validated (letters, digits, `_`, `-`) and inlined as JSON path literals, so an
expression index on `json_extract(body, '$."a"."b"')` matches the query text and is used.
Values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nunet.db.query import Condition, Eq, Ge, Gt, In, Le, Like, Lt, OrderBy, Prefix, like_tokens

_NUMBER = "IN ('integer','real')"
_COMPARE = {Lt: "<", Le: "<=", Gt: ">", Ge: ">="}


def json_path(path: Sequence[str]) -> str:
    return "$" + "".join(f'."{segment}"' for segment in path)


def extract(path: Sequence[str]) -> str:
    """The indexable expression for a field; identical text in indexes and queries."""
    return f"json_extract(body, '{json_path(path)}')"


def _type(path: Sequence[str]) -> str:
    return f"json_type(body, '{json_path(path)}')"


def where_sql(conditions: Sequence[Condition]) -> tuple[str, list[Any]]:
    """SQL terms (ANDed) and their parameters."""
    terms: list[str] = []
    params: list[Any] = []
    for condition in conditions:
        term, values = _condition(condition)
        terms.append(term)
        params.extend(values)
    return " AND ".join(terms) if terms else "1", params


def _eq(path: Sequence[str], value: Any) -> tuple[str, list[Any]]:
    if value is None:
        return f"{_type(path)} = 'null'", []
    if isinstance(value, bool):
        return f"{_type(path)} = '{'true' if value else 'false'}'", []
    kind = _NUMBER if isinstance(value, int | float) else "= 'text'"
    return f"({extract(path)} = ? AND {_type(path)} {kind})", [value]


def _condition(condition: Condition) -> tuple[str, list[Any]]:
    path = condition.path
    if isinstance(condition, Eq):
        return _eq(path, condition.value)
    if isinstance(condition, In):
        # Numbers and strings in one `IN (...)` the index can serve: without affinity, SQLite
        # never equates TEXT with INTEGER/REAL, so only the booleans (stored as 0/1) need the
        # json_type guard. Null and booleans are matched by type alone.
        plain = [v for v in condition.values if v is not None and not isinstance(v, bool)]
        terms: list[str] = []
        if plain:
            marks = ", ".join("?" * len(plain))
            terms.append(
                f"({extract(path)} IN ({marks}) AND {_type(path)} IN ('integer','real','text'))"
            )
        for special in dict.fromkeys(
            v for v in condition.values if v is None or v is True or v is False
        ):
            terms.append(_eq(path, special)[0])
        return "(" + " OR ".join(terms) + ")", plain
    if isinstance(condition, Lt | Le | Gt | Ge):
        kind = "= 'text'" if isinstance(condition.value, str) else _NUMBER
        op = _COMPARE[type(condition)]
        return f"({extract(path)} {op} ? AND {_type(path)} {kind})", [condition.value]
    if isinstance(condition, Prefix):
        # The >= bound lets an index narrow the scan; substr decides exactly.
        return (
            f"({extract(path)} >= ? AND {_type(path)} = 'text'"
            f" AND substr({extract(path)}, 1, ?) = ?)",
            [condition.prefix, len(condition.prefix), condition.prefix],
        )
    if isinstance(condition, Like):
        return (
            f"({_type(path)} = 'text' AND {extract(path)} GLOB ?)",
            [glob_pattern(condition.pattern)],
        )
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def glob_pattern(pattern: str) -> str:
    """A case-sensitive LIKE pattern as the equivalent SQLite GLOB pattern."""
    out = []
    for token, char in like_tokens("", pattern):
        if token == "any":
            out.append("*")
        elif token == "one":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def order_sql(orders: Sequence[OrderBy], *, filtered: bool = False) -> str:
    """ORDER BY terms: kind rank, then value, per field; then id.

    When the query is filtered, `+id` keeps the planner from preferring the (collection, id)
    index for its order over an expression index that serves the conditions.
    """
    terms = []
    for order in orders:
        direction = " DESC" if order.descending else ""
        t, x = _type(order.path), extract(order.path)
        terms.append(
            f"CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2"
            f" WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 4"
            f" ELSE 0 END{direction}"
        )
        terms.append(
            f"CASE WHEN {t} IN ('true','false','integer','real','text') THEN {x} END{direction}"
        )
    terms.append("+id" if filtered else "id")
    return ", ".join(terms)
