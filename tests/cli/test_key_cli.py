"""`nunet key` through click's runner with a real key store."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nunet.cli import cli


def run(home: Path, *args: str, passphrase: str | None = "pw") -> tuple[int, str]:
    env = {"NUNET_HOME": str(home)}
    if passphrase is not None:
        env["NUNET_PASSPHRASE"] = passphrase
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_key_lifecycle(tmp_path: Path) -> None:
    code, out = run(tmp_path, "-o", "json", "key", "new", "dms")
    assert code == 0
    did = json.loads(out)["did"]
    assert did.startswith("did:key:z")
    assert run(tmp_path, "key", "did", "dms", passphrase=None) == (0, did + "\n")
    code, out = run(tmp_path, "-o", "json", "key", "list", passphrase=None)
    assert json.loads(out) == [{"name": "dms", "did": did}]
    code, out = run(tmp_path, "-o", "json", "key", "export-public", "dms")
    exported = json.loads(out)
    assert exported["did"] == did
    assert len(bytes.fromhex(exported["public_key"])) == 32


def test_key_errors_are_one_clear_line(tmp_path: Path) -> None:
    assert run(tmp_path, "key", "new", "dms")[0] == 0
    code, out = run(tmp_path, "key", "new", "dms")
    assert code == 1
    assert "already exists" in out
    code, out = run(tmp_path, "key", "export-public", "dms", passphrase="wrong")
    assert code == 1
    assert "passphrase does not open" in out
    code, out = run(tmp_path, "key", "did", "ghost")
    assert code == 1
    assert "nunet key new ghost" in out
    code, out = run(tmp_path, "key", "new", "x", passphrase=None)
    assert code != 0
    assert "NUNET_PASSPHRASE" in out


def test_passphrase_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("from-file\n")
    code, _ = run(tmp_path, "--passphrase-file", str(secret), "key", "new", "dms", passphrase=None)
    assert code == 0
    code, out = run(tmp_path, "key", "export-public", "dms", passphrase="from-file")
    assert code == 0, out
