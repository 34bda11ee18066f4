"""The microVM executor with QEMU's microvm machine under TCG, for real: the contract, then what
only a VM has (a missing kernel, the console, drives, recover). Every boot costs ~2 s here, so
tests batch their assertions per boot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.executor.contract import ExecutorBackend, ExecutorContract
from tests.executor.microvm_support import MicroVMBackend, guest_kernel


@pytest.fixture(scope="session")
def microvm_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("microvm")


@pytest.fixture(scope="session")
def kernel() -> Path:
    return guest_kernel()


class TestMicroVMContract(ExecutorContract):
    @pytest.fixture
    def backend(self, busybox_image: str, kernel: Path, microvm_state: Path) -> ExecutorBackend:
        return MicroVMBackend(busybox_image, kernel, microvm_state)
