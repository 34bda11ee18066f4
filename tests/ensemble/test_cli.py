"""`nunet validate`: no node needed; an ok line per valid file, every problem of the others,
exit status 2 when any is invalid; json and yaml output."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from nunet.cli import cli
from nunet.cli.ensemble import validate
from tests.ensemble.support import EXAMPLES


def group() -> click.Group:
    # The lead registers `validate` in nunet/cli/commands.py; until then the test adds it.
    if "validate" not in cli.commands:
        cli.add_command(validate)
    return cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(group(), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_valid_files_print_ok_with_their_counts(tmp_path: Path) -> None:
    code, out = run(
        "--home",
        str(tmp_path),
        "validate",
        str(EXAMPLES / "web-stack.yaml"),
        str(EXAMPLES / "nested.yaml"),
    )
    assert code == 0
    assert out.splitlines() == [
        f"ok: {EXAMPLES / 'web-stack.yaml'}: 2 allocations on 2 nodes",
        f"ok: {EXAMPLES / 'nested.yaml'}: 6 allocations on 4 nodes",
    ]


def test_every_problem_is_printed_and_the_exit_status_is_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: nunet/v1\nallocations:\n  web:\n    resources: {ram: 4 GB}\n"
        "    execution: {image: busybox:1}\n    timeouts: {run: 30}\nnodes:\n  n1: {allocations: [web]}\n"
    )
    code, out = run("validate", str(EXAMPLES / "hello-task.yaml"), str(bad))
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"ok: {EXAMPLES / 'hello-task.yaml'}: 1 allocations on 1 nodes"
    assert lines[1] == f"invalid: {bad}: 2 problems"
    assert lines[2].startswith("  allocations.web.resources.ram: '4 GB' is ambiguous")
    assert lines[3] == "  allocations.web.timeouts.run: 30 is not a duration; write 30s"


def test_a_yaml_syntax_error_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: nunet/v1\nallocations: [\n")
    code, out = run("validate", str(bad))
    assert code == 2
    assert f"  {bad}:3:1: YAML syntax: " in out
    assert "Traceback" not in out


def test_json_output_lists_each_verdict(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    code, out = run("validate", "-o", "json", str(EXAMPLES / "nunet-v1.yaml"), str(missing))
    assert code == 2
    verdicts = json.loads(out)
    assert verdicts[0]["ok"] is True
    assert (verdicts[0]["allocations"], verdicts[0]["nodes"]) == (2, 2)
    assert verdicts[0]["start_order"] == [["alloc1", "alloc2"]]
    assert verdicts[1] == {
        "file": str(missing),
        "ok": False,
        "problems": [
            {
                "path": str(missing),
                "message": "cannot be read (No such file or directory); check the path",
            }
        ],
    }


def test_yaml_output_is_the_same_verdicts() -> None:
    code, out = run("-o", "yaml", "validate", str(EXAMPLES / "gpu-training.yaml"))
    assert code == 0
    verdict = yaml.safe_load(out)[0]
    assert verdict["ok"] is True
    assert verdict["name"] == "gpu-training"


def test_validate_needs_at_least_one_file() -> None:
    code, out = run("validate")
    assert code == 2
    assert "Missing argument" in out
