"""`nunet swarm key new|show`, invoking the group with click's runner and a real home."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from nunet.cli.context import CliContext
from nunet.cli.swarm import swarm
from nunet.mesh import SwarmKey


def run(home: Path, *args: str) -> tuple[int, str]:
    context = CliContext(home=home, passphrase_file=None, output="json")
    result = CliRunner().invoke(swarm, list(args), obj=context)
    return result.exit_code, result.output


def test_key_new_writes_a_private_key_under_home_and_show_prints_its_fingerprint(
    tmp_path: Path,
) -> None:
    code, out = run(tmp_path, "key", "new")
    assert code == 0, out
    created = json.loads(out)
    path = tmp_path / "swarm.key"
    assert created["path"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created["fingerprint"] == SwarmKey.load(path).fingerprint
    code, out = run(tmp_path, "key", "show")
    assert code == 0
    assert json.loads(out) == created | {"swarm": "private"}


def test_key_new_refuses_to_overwrite_in_one_clear_line(tmp_path: Path) -> None:
    assert run(tmp_path, "key", "new")[0] == 0
    before = (tmp_path / "swarm.key").read_bytes()
    code, out = run(tmp_path, "key", "new")
    assert code == 1
    assert "already exists" in out
    assert "Traceback" not in out
    assert (tmp_path / "swarm.key").read_bytes() == before


def test_key_new_out_writes_elsewhere(tmp_path: Path) -> None:
    target = tmp_path / "keys" / "lab.key"
    code, out = run(tmp_path / "home", "key", "new", "--out", str(target))
    assert code == 0, out
    assert json.loads(out)["path"] == str(target)
    assert SwarmKey.load(target).fingerprint == json.loads(out)["fingerprint"]
    code, out = run(tmp_path / "home", "key", "show", "--path", str(target))
    assert json.loads(out)["fingerprint"] == SwarmKey.load(target).fingerprint


def test_show_without_a_key_says_the_node_is_in_the_open_swarm(tmp_path: Path) -> None:
    code, out = run(tmp_path, "key", "show")
    assert code == 0
    shown = json.loads(out)
    assert shown["swarm"] == "open public"
    assert shown["fingerprint"] == SwarmKey.public().fingerprint


def test_show_of_a_broken_or_missing_explicit_key_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.key"
    broken.write_text("hello\n")
    code, out = run(tmp_path, "key", "show", "--path", str(broken))
    assert code == 1
    assert str(broken) in out
    assert "first line must be" in out
    code, out = run(tmp_path, "key", "show", "--path", str(tmp_path / "gone.key"))
    assert code == 1
    assert "does not exist" in out
