"""The inverted index of terms answers like a plain dict of sets, through adds, removes, growth
and columns kept for popular terms."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.index.memberships import Memberships

TERMS = ["docker", ("zone", "a"), ("zone", "b")]
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "grow", "mask"]),
        st.integers(0, 4),  # slot: few, so that removes hit held slots
        st.sampled_from(TERMS),
    ),
    min_size=10,
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(operations=operations)
def test_masks_equal_those_of_a_dict_of_sets(
    operations: list[tuple[str, int, object]], monkeypatch_hot: None
) -> None:
    capacity = 5
    index = Memberships(capacity)
    expected: dict[object, set[int]] = {}
    for operation, slot, term in operations:
        if operation == "add":
            index.add(slot, [term])
            expected.setdefault(term, set()).add(slot)
        elif operation == "remove":
            index.remove(slot, [term])
            expected.get(term, set()).discard(slot)
        elif operation == "grow":
            capacity += 10
            index.grow(capacity)
        else:
            held = set(index.mask(term).nonzero()[0].tolist())
            assert held == expected.get(term, set())
            assert len(index.mask(term)) == capacity
    for term in TERMS:
        assert set(index.mask(term).nonzero()[0].tolist()) == expected.get(term, set())
        assert index.count(term) == len(expected.get(term, set()))
