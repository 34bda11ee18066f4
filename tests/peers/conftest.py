"""The swarm fixture: nodes with presence actors, closed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.peers.swarm import Swarm


@pytest.fixture
async def swarm(tmp_path: Path) -> AsyncIterator[Swarm]:
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits)
