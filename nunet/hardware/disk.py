"""The filesystem that holds a path: its size and what an unprivileged writer may still use."""

from __future__ import annotations

import os
from pathlib import Path

from nunet.hardware.errors import HardwareDetectionError


def detect_disk(path: Path) -> tuple[int, int]:
    """(total, free) bytes of the filesystem holding `path`, which must exist."""
    try:
        stats = os.statvfs(path)
    except FileNotFoundError:
        raise HardwareDetectionError(
            f"disk path {path} does not exist: create the node's home directory first"
        ) from None
    except OSError as exc:
        raise HardwareDetectionError(
            f"cannot read the filesystem of {path}: {exc.strerror}"
        ) from None
    return stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize
