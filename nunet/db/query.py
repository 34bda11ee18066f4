"""The query vocabulary: conditions on dotted fields, an ordering, and paging, validated up front.

Conditions are small immutable objects (`Eq("status", "running")`, `Gt("cpu.cores", 4)`), or the
same written as a dict (`{"status": "running", "cpu.cores": {"gt": 4}}`); all must hold (AND).

Semantics (identical in every store):
- A field is a dotted path of object keys (`cpu.cores`); a segment is letters, digits, `_`, `-`.
  A path that is missing or crosses a non-object matches no condition.
- Values compare only within a kind: null, booleans, numbers (ints and floats together),
  strings. `Eq("n", 1)` matches 1 and 1.0, never `true` or `"1"`. `Eq("x", None)` matches an
  explicit null, not a missing field. Arrays and objects match no condition.
- `Lt/Le/Gt/Ge` take a number or a string and match fields of that kind. Strings compare by
  code point.
- `In(field, values)` matches when `Eq` matches any of the values.
- `Prefix(field, "abc")` matches strings starting with "abc" (case-sensitive).
- `Like(field, pattern)` is SQL LIKE, but case-sensitive: `%` any run of characters, `_` exactly
  one character, `\\` makes the next character literal.
- Ordering: `"field"` ascending, `"-field"` descending; by kind first (missing/null < booleans <
  numbers < strings < arrays and objects, the last all equal), then by value; ties by id,
  ascending. Without an ordering, results come by id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nunet.db.document import INT_MAX, INT_MIN
from nunet.db.errors import InvalidQuery

Scalar = None | bool | int | float | str
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
OPERATORS = ("eq", "lt", "le", "gt", "ge", "in", "prefix", "like")
MAX_IN_VALUES = 500


def parse_field(field: Any) -> tuple[str, ...]:
    """Split a dotted field into its segments; raise InvalidQuery naming the bad field."""
    if not isinstance(field, str) or not field:
        raise InvalidQuery(f"{field!r} is not a field name")
    segments = tuple(field.split("."))
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidQuery(
                f"field {field!r}: segment {segment!r} must be 1-64 letters, digits, '_' or '-'"
            )
    return segments


def _check_scalar(field: str, op: str, value: Any) -> Scalar:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and "\x00" in value:
            raise InvalidQuery(f"field {field!r}: {op} value contains a NUL character")
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidQuery(f"field {field!r}: {op} value {value} does not fit 64 bits")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidQuery(f"field {field!r}: {op} value {value} is not a JSON number")
        return value
    raise InvalidQuery(
        f"field {field!r}: {op} takes null, a boolean, a number or a string,"
        f" not {type(value).__name__}"
    )


@dataclass(frozen=True, slots=True)
class Condition:
    """Base of all conditions: a field and what its value must satisfy."""

    field: str
    op: ClassVar[str] = ""

    def __post_init__(self) -> None:
        parse_field(self.field)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))


@dataclass(frozen=True, slots=True)
class Eq(Condition):
    value: Scalar
    op: ClassVar[str] = "eq"

    def __post_init__(self) -> None:
        parse_field(self.field)
        _check_scalar(self.field, self.op, self.value)


@dataclass(frozen=True, slots=True)
class _Range(Condition):
    value: int | float | str

    def __post_init__(self) -> None:
        parse_field(self.field)
        value = _check_scalar(self.field, self.op, self.value)
        if value is None or isinstance(value, bool):
            raise InvalidQuery(
                f"field {self.field!r}: {self.op} compares numbers or strings, not {value!r}"
            )


@dataclass(frozen=True, slots=True)
class Lt(_Range):
    op: ClassVar[str] = "lt"


@dataclass(frozen=True, slots=True)
class Le(_Range):
    op: ClassVar[str] = "le"


@dataclass(frozen=True, slots=True)
class Gt(_Range):
    op: ClassVar[str] = "gt"


@dataclass(frozen=True, slots=True)
class Ge(_Range):
    op: ClassVar[str] = "ge"


@dataclass(frozen=True, slots=True)
class In(Condition):
    values: tuple[Scalar, ...]
    op: ClassVar[str] = "in"

    def __post_init__(self) -> None:
        parse_field(self.field)
        given: Any = self.values  # callers may pass anything at runtime
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise InvalidQuery(f"field {self.field!r}: in takes a list of values")
        if not self.values:
            raise InvalidQuery(f"field {self.field!r}: in needs at least one value")
        if len(self.values) > MAX_IN_VALUES:
            raise InvalidQuery(f"field {self.field!r}: in takes at most {MAX_IN_VALUES} values")
        for value in self.values:
            _check_scalar(self.field, self.op, value)
        object.__setattr__(self, "values", tuple(self.values))


@dataclass(frozen=True, slots=True)
class Prefix(Condition):
    prefix: str
    op: ClassVar[str] = "prefix"

    def __post_init__(self) -> None:
        parse_field(self.field)
        if not isinstance(self.prefix, str):
            raise InvalidQuery(f"field {self.field!r}: prefix takes a string")
        _check_scalar(self.field, self.op, self.prefix)


@dataclass(frozen=True, slots=True)
class Like(Condition):
    pattern: str
    op: ClassVar[str] = "like"

    def __post_init__(self) -> None:
        parse_field(self.field)
        if not isinstance(self.pattern, str):
            raise InvalidQuery(f"field {self.field!r}: like takes a string pattern")
        _check_scalar(self.field, self.op, self.pattern)
        like_tokens(self.field, self.pattern)


def like_tokens(field: str, pattern: str) -> list[tuple[str, str]]:
    """Split a LIKE pattern into ("any", ""), ("one", ""), ("text", c) tokens."""
    tokens: list[tuple[str, str]] = []
    escaped = False
    for char in pattern:
        if escaped:
            tokens.append(("text", char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            tokens.append(("any", ""))
        elif char == "_":
            tokens.append(("one", ""))
        else:
            tokens.append(("text", char))
    if escaped:
        raise InvalidQuery(f"field {field!r}: like pattern {pattern!r} ends in a lone backslash")
    return tokens


_RANGES: dict[str, type[_Range]] = {"lt": Lt, "le": Le, "gt": Gt, "ge": Ge}

Where = Mapping[str, Any] | Sequence[Condition] | Condition | None


def parse_where(where: Where) -> tuple[Condition, ...]:
    """Normalise `where` (conditions, or the dict mini-language) into a tuple of conditions.

    Dict form: `{"field": value}` is Eq; `{"field": {"gt": 1, "le": 5}}` is several conditions;
    operators are eq, lt, le, gt, ge, in, prefix, like.
    """
    if where is None:
        return ()
    if isinstance(where, Condition):
        return (where,)
    if isinstance(where, Mapping):
        conditions: list[Condition] = []
        for field, spec in where.items():
            parse_field(field)
            if isinstance(spec, Mapping):
                if not spec:
                    raise InvalidQuery(f"field {field!r}: an empty operator mapping")
                for op, value in spec.items():
                    conditions.append(_condition(field, op, value))
            else:
                conditions.append(Eq(field, spec))
        return tuple(conditions)
    given: Any = where  # callers may pass anything at runtime
    if isinstance(given, Sequence) and not isinstance(given, str | bytes):
        for item in given:
            if not isinstance(item, Condition):
                raise InvalidQuery(
                    f"where lists conditions (Eq, Lt, In, Prefix, Like, ...), not {item!r}"
                )
        return tuple(given)
    raise InvalidQuery(f"where is a dict or a list of conditions, not {type(given).__name__}")


def _condition(field: str, op: Any, value: Any) -> Condition:
    if op == "eq":
        return Eq(field, value)
    if op in _RANGES:
        return _RANGES[op](field, value)
    if op == "in":
        if not isinstance(value, list | tuple):
            raise InvalidQuery(f"field {field!r}: in takes a list of values, not {value!r}")
        return In(field, tuple(value))
    if op == "prefix":
        return Prefix(field, value)
    if op == "like":
        return Like(field, value)
    raise InvalidQuery(
        f"field {field!r}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
    )


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: str
    descending: bool = False

    def __post_init__(self) -> None:
        parse_field(self.field)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))


def parse_order(order_by: str | Sequence[str] | None) -> tuple[OrderBy, ...]:
    """`"field"` ascending, `"-field"` descending; a list orders by each in turn."""
    if order_by is None:
        return ()
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    orders = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidQuery(f"order_by takes field names, not {item!r}")
        descending = item.startswith("-")
        orders.append(OrderBy(item[1:] if descending else item, descending))
    return tuple(orders)


def check_paging(limit: int | None, offset: int) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidQuery(f"limit must be a non-negative integer, not {limit!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidQuery(f"offset must be a non-negative integer, not {offset!r}")
