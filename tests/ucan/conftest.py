"""Keys and a fixed clock for capability tests; tokens are built with the real signing code."""

from __future__ import annotations

import pytest

from nunet.identity import KeyPair

NOW = 1_700_000_000.0
HOUR = 3600.0


def key(n: int) -> KeyPair:
    return KeyPair.from_seed(bytes([n]) * 32)


@pytest.fixture
def node() -> KeyPair:
    return key(1)


@pytest.fixture
def alice() -> KeyPair:
    return key(2)


@pytest.fixture
def bob() -> KeyPair:
    return key(3)


@pytest.fixture
def carol() -> KeyPair:
    return key(4)


@pytest.fixture
def mallory() -> KeyPair:
    return key(5)
