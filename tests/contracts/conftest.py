"""Fixtures shared by the contracts tests: a real PostgreSQL for the event-log-backed parts,
and the busybox image the whole-node tests deploy."""

import pytest

from tests.executor.images import docker_available, ensure_busybox_image
from tests.support.postgres import postgres_dsn

__all__ = ["busybox_image", "postgres_dsn"]


@pytest.fixture(scope="session")
def busybox_image() -> str:
    if not docker_available():
        pytest.skip("no Docker engine answers here (scripts/bootstrap.sh starts one)")
    return ensure_busybox_image()
