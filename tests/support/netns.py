"""Network namespaces for tests that need a real non-loopback address (root and iproute2 needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Namespace:
    name: str

    def run(self, *command: str) -> list[str]:
        """The argv that runs `command` inside this namespace."""
        return ["ip", "netns", "exec", self.name, *command]


def require_netns() -> None:
    if os.geteuid() != 0:
        pytest.skip(f"network namespaces need root (this test runs as uid {os.geteuid()})")
    if shutil.which("ip") is None:
        pytest.skip("network namespaces need the `ip` command (Debian package iproute2)")


@contextmanager
def namespace_with_address(address: str, prefix: int = 32) -> Iterator[Namespace]:
    """A fresh namespace with loopback up, also holding `address`.

    The address sits on the namespace's own `lo` (no kernel module needed, unlike a dummy or veth
    device); it is still not a loopback address, which is what the tests need.
    """
    require_netns()
    name = f"nunet-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for command in (
            ["link", "set", "lo", "up"],
            ["addr", "add", f"{address}/{prefix}", "dev", "lo"],
        ):
            subprocess.run(["ip", "-n", name, *command], check=True)
        yield Namespace(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
