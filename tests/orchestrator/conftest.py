"""Executor tests: the busybox test image, built once per session."""

from __future__ import annotations

import pytest

from tests.executor.images import docker_available, ensure_busybox_image


@pytest.fixture(scope="session")
def busybox_image() -> str:
    if not docker_available():
        pytest.skip("no Docker engine answers here (scripts/bootstrap.sh starts one)")
    return ensure_busybox_image()
