"""What this node offers the swarm: the executors present, and the capability assembled from
the machine, the reservation and the latest benchmark (pure apart from `detect_executors`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence

from nunet.capability.model import Benchmarks, Capability
from nunet.hardware.machine import Machine
from nunet.onboarding.events import Reservation

DOCKER_SOCKET = "/var/run/docker.sock"
DEFAULT_STORAGE = ("inline", "url", "nunet")

ExecutorDetector = Callable[[], tuple[str, ...]]


def detect_executors(
    *,
    which: Callable[[str], str | None] = shutil.which,
    exists: Callable[[str], bool] = os.path.exists,
) -> tuple[str, ...]:
    """The executors this machine can run jobs with: `docker` (its CLI and its engine's socket),
    `qemu` (`qemu-system-x86_64`) and `firecracker` (their binaries on PATH)."""
    found = []
    if which("docker") and exists(DOCKER_SOCKET):
        found.append("docker")
    if which("qemu-system-x86_64"):
        found.append("qemu")
    if which("firecracker"):
        found.append("firecracker")
    return tuple(found)


def capability_of(
    machine: Machine,
    reservation: Reservation,
    *,
    benchmarks: Benchmarks | None = None,
    executors: Sequence[str] = (),
    storage: Sequence[str] = DEFAULT_STORAGE,
) -> Capability:
    """The capability a node with this machine and reservation announces."""
    return Capability(
        resources=reservation.resources,
        cpu=machine.cpu,
        os=machine.os,
        executors=tuple(executors),
        storage=tuple(storage),
        location=reservation.location,
        price=reservation.price,
        labels=dict(reservation.labels),
        benchmarks=benchmarks or Benchmarks(),
    )
