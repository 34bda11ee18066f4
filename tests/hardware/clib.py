"""Building the C stand-ins for GPU driver libraries the tests load through ctypes (gcc)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def build_library(source: Path, target_dir: Path, *defines: str) -> Path:
    """Compile `source` into a shared library in `target_dir`; one file per set of defines."""
    compiler = shutil.which("gcc")
    assert compiler, "gcc is needed to build the driver stand-ins (Debian package gcc)"
    name = "-".join([source.stem, *(d.lower() for d in defines)])
    target = target_dir / f"lib{name}.so"
    flags = [f"-D{d}" for d in defines]
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O1",
            "-Wall",
            "-Werror",
            *flags,
            "-o",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return target
