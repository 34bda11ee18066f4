"""Fixtures of the capability index tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nunet.index import memberships


@pytest.fixture(scope="module")
def monkeypatch_hot() -> Iterator[None]:
    """Columns kept for terms held by 3 slots and at most 2 of them, so small tests reach both."""
    saved = memberships.HOT_AT, memberships.HOT_COLUMNS
    memberships.HOT_AT, memberships.HOT_COLUMNS = 3, 2
    yield
    memberships.HOT_AT, memberships.HOT_COLUMNS = saved
