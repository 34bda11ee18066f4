"""Hypothesis strategies for documents and queries, drawn from small pools so conditions match."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nunet.db import Eq, Ge, Gt, In, Le, Like, Lt, Prefix


def _ok_text(text: str) -> bool:
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


TEXT = st.text(max_size=10).filter(_ok_text)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)

# Query fields and values are drawn from small pools so that conditions often match.
FIELDS = ["a", "b", "n.x", "n.y"]
SMALL_TEXT = st.text(alphabet="ab%_*?[]\\é", max_size=4)
POOL = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.5, -1.5, 2.0, 1e300, -0.0, 0.1])
    | SMALL_TEXT
)
VALUE = (
    POOL
    | st.lists(POOL, max_size=2)
    | st.dictionaries(st.sampled_from(["x", "y"]), POOL, max_size=2)
)


@st.composite
def _document(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key in ("a", "b"):
        if draw(st.booleans()):
            doc[key] = draw(VALUE)
    if draw(st.booleans()):
        doc["n"] = draw(st.dictionaries(st.sampled_from(["x", "y"]), VALUE, max_size=2) | POOL)
    return doc


DOCUMENT_SETS = st.dictionaries(
    st.sampled_from([f"d{i}" for i in range(12)]), _document(), max_size=10
)
RANGE_VALUES = st.integers(-3, 3) | st.sampled_from([0.5, -1.5, 0.1]) | SMALL_TEXT


def _like_pattern(text: str) -> str:
    return text[:-1] if text.endswith("\\") and not text.endswith("\\\\") else text


CONDITIONS = st.one_of(
    st.tuples(st.sampled_from(FIELDS), st.just("eq"), POOL),
    st.tuples(st.sampled_from(FIELDS), st.sampled_from(["lt", "le", "gt", "ge"]), RANGE_VALUES),
    st.tuples(st.sampled_from(FIELDS), st.just("in"), st.lists(POOL, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(FIELDS), st.just("prefix"), SMALL_TEXT),
    st.tuples(st.sampled_from(FIELDS), st.just("like"), SMALL_TEXT.map(_like_pattern)),
)
ORDERS = st.sampled_from(FIELDS).flatmap(lambda f: st.sampled_from([f, "-" + f]))
OBJECTS: dict[str, Any] = {
    "eq": Eq, "lt": Lt, "le": Le, "gt": Gt, "ge": Ge, "in": In, "prefix": Prefix, "like": Like,
}  # fmt: skip
