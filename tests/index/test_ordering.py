"""Top-k by several keys equals a full sort; DID words order DIDs as Python orders strings."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.index.ordering import by, did_words, smallest


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.floats(0, 4, allow_nan=False), st.integers(0, 2**64 - 1)),
        max_size=300,
    ),
    k=st.integers(0, 40),
)
def test_the_first_k_by_several_keys_are_those_of_a_full_sort(
    rows: list[tuple[int, float, int]], k: int
) -> None:
    keys = [
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.uint64),
    ]
    expected = sorted(range(len(rows)), key=lambda i: (rows[i], i))[:k]
    assert smallest([by(key) for key in keys], len(rows), k).tolist() == expected


def test_a_cut_found_on_a_sample_keeps_the_true_k_smallest_of_many_rows() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 50, 100_000).astype(np.float64)  # thousands tie at each value
    tie_break = rng.permutation(100_000).astype(np.uint64)
    chosen = smallest([by(values), by(tie_break)], len(values), 25)
    expected = np.lexsort((tie_break, values))[:25]
    assert chosen.tolist() == expected.tolist()


@given(
    st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20),
        min_size=2,
        max_size=2,
    )
)
def test_did_words_compare_as_the_strings_do(pair: list[str]) -> None:
    first, second = (did_words(text, 32) for text in pair)
    assert first is not None
    assert second is not None
    assert (first < second) == (pair[0] < pair[1])
    assert (first == second) == (pair[0] == pair[1])


def test_a_did_that_words_cannot_order_is_refused() -> None:
    assert did_words("did:key:a\x00b", 8) is None
    assert did_words("d" * 65, 8) is None
    assert did_words("\ud800", 8) is None  # a lone surrogate has no UTF-8
    assert did_words("d" * 64, 8) is not None
