"""Whatever is put wherever in a document, loading ends in an Ensemble or an EnsembleError with
problems: never another exception (no stack trace reaches a user)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.ensemble import EnsembleError, load_ensemble, parse_ensemble_text
from tests.ensemble.support import EXAMPLES

DOCUMENTS = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
JUNK = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(
            ["4GiB", "30s", "a", "did:key:z", "EU", "one-for-one", "service", "V1", "nunet/v1"]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += paths(value, (*prefix, i))
    return found


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_junk_anywhere_is_an_ensemble_error_at_worst(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(DOCUMENTS)))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(doc)))
        junk = data.draw(JUNK)
        if not where:
            doc = junk
            continue
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = junk
    try:
        load_ensemble(doc)
    except EnsembleError as error:
        found = error.problems
    else:
        return
    assert found
    assert all(p.path and p.message for p in found)


YAML_BITS = st.sampled_from(
    [
        "version: nunet/v1\n",
        "allocations:\n",
        "  a:\n",
        "    execution: {image: x}\n",
        "nodes:\n",
        "  n1: {allocations: [a]}\n",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ": ",
        "&a ",
        "*a ",
        "!!python/object:os.system ",
        "? ",
        "|\n",
        "'",
        '"',
        "\t",
        "---\n",
        "%YAML 1.1\n",
        "!!binary ",
        "2024-01-01",
        "0x1F",
        "~",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(YAML_BITS, st.text(max_size=4)), max_size=12).map("".join))
def test_any_text_is_an_ensemble_error_at_worst(text: str) -> None:
    try:
        parse_ensemble_text(text)
    except EnsembleError as error:
        found = error.problems
    else:
        return
    assert all(p.path and p.message for p in found)
