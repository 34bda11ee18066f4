"""Finding a test's processes by what their command line mentions (nodes and their nats-servers)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_under(directory: Path) -> list[int]:
    """Pids of live (non-zombie) processes whose command line mentions `directory`."""
    needle = str(directory).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found
