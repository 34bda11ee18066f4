"""The nats-server binary is the pinned release, or it is not run."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nunet.mesh import NATS_SERVER_VERSION, NatsBinaryError, locate_nats_server, verify_nats_server
from nunet.mesh.binary import PINNED_SHA256


def _script(path: Path, output: str) -> Path:
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_installed_wheel_binary_is_the_pinned_release() -> None:
    binary = locate_nats_server()
    assert verify_nats_server(binary) == binary


def test_a_binary_with_another_checksum_is_refused(tmp_path: Path) -> None:
    impostor = _script(tmp_path / "nats-server", f"nats-server: v{NATS_SERVER_VERSION}")
    with pytest.raises(NatsBinaryError, match="is not the pinned nats-server") as caught:
        verify_nats_server(impostor, machine="x86_64")
    assert PINNED_SHA256["x86_64"] in str(caught.value)
    assert str(impostor) in str(caught.value)


def test_without_a_pinned_checksum_the_version_is_checked(tmp_path: Path) -> None:
    assert verify_nats_server(locate_nats_server(), machine="riscv64")
    honest = _script(tmp_path / "honest", f"nats-server: v{NATS_SERVER_VERSION}")
    assert verify_nats_server(honest, machine="riscv64") == honest
    older = _script(tmp_path / "older", "nats-server: v2.10.0")
    with pytest.raises(NatsBinaryError, match=r"reports nats-server v2\.10\.0, expected"):
        verify_nats_server(older, machine="riscv64")


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NatsBinaryError, match="cannot read nats-server"):
        verify_nats_server(tmp_path / "nope")
