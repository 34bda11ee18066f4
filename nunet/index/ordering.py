"""Top-k by several keys without sorting everything: each key narrows the tie at the cut.

`smallest(keys, k)` returns the positions of the k rows that come first when all rows are sorted
by keys[0], then keys[1], ... (ascending), in that order. Each key costs one pass over the rows
still tied at the k-th place; an exact cut is found on a strided sample first, so a pass over
100,000 rows is a comparison and a compress, not a full partition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nunet.index.columns import Array

Key = Callable[[Array], Array]  # the key's values at the given row positions
_SAMPLE_ABOVE = 8192  # rows; below this a partition of all of them is cheap enough
_SAMPLE_SIZE = 2048


def smallest(keys: Sequence[Key], rows: int, k: int) -> Array:
    """Positions of the first `k` of `rows` rows by (keys[0], keys[1], ...), ascending, in order.

    Each key gives its values at the positions asked: a later key is only asked for the rows
    still tied at the cut (computing it for every row would cost more than the selection).
    Rows equal in every key come in row order. Keys must hold no NaN.
    """
    k = min(k, rows)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    chosen: list[Array] = []
    tied: Array = np.arange(rows, dtype=np.intp)
    needed = k
    for key in keys:
        if len(tied) <= needed:
            break
        values = key(tied)
        cut = _kth_smallest(values, needed)
        better = values < cut
        taken = tied[better]
        chosen.append(taken)
        needed -= len(taken)
        tied = tied[values == cut]
    chosen.append(tied[:needed])
    selected = np.sort(np.concatenate(chosen))
    order = np.lexsort([key(selected) for key in reversed(keys)])
    result: Array = selected[order]
    return result


def by(values: Array) -> Key:
    """A key whose values are computed already, one per row."""
    return values.__getitem__


def _kth_smallest(values: Array, k: int) -> object:
    """The k-th smallest value (1-based) of `values`."""
    if len(values) > _SAMPLE_ABOVE:
        step = len(values) // _SAMPLE_SIZE
        sample = values[::step]
        if len(sample) >= k:
            # A sample's k-th smallest is never below the whole's, so this keeps the k smallest.
            bound = np.partition(sample, k - 1)[k - 1]
            values = values[values <= bound]
    return np.partition(values, k - 1)[k - 1]


def did_words(did: str, words: int) -> list[int] | None:
    """The DID's UTF-8 bytes as `words` big-endian 64-bit words, zero padded, so that comparing
    the words in order compares the DIDs as Python compares strings; None if it does not fit or
    cannot be compared that way (a NUL character, an unencodable one)."""
    if "\x00" in did:
        return None
    try:
        data = did.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(data) > words * 8:
        return None
    data = data.ljust(words * 8, b"\x00")
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, words * 8, 8)]
