"""`nunet translate`: the YAML on stdout, each dropped item on stderr, exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from nunet.cli.translate import translate_command
from nunet.ensemble import load_ensemble
from tests.translate.support import MANIFESTS


def test_prints_the_ensemble_and_reports_what_was_dropped() -> None:
    result = CliRunner().invoke(translate_command, [str(MANIFESTS / "k8s-job.yaml")])
    assert result.exit_code == 0, result.stderr
    ensemble = load_ensemble(yaml.safe_load(result.stdout))
    assert list(ensemble.allocations) == [f"train-shard-{i}" for i in range(4)]
    assert result.stderr.splitlines() == [
        "dropped: spec.backoffLimit: 2 (a failed task restarts without a count of its own: the "
        "supervisor's intensity (3 restarts in 60s by default) bounds the restarts)",
        "dropped: spec.ttlSecondsAfterFinished: 600 (no ensemble equivalent)",
    ]


def test_writes_json_or_yaml_to_the_out_file(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("out.json", "out.yaml"):
        out = tmp_path / name
        args = [str(MANIFESTS / "nomad-web.nomad.hcl"), "--from", "nomad", "-o", str(out)]
        result = runner.invoke(translate_command, args)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        text = out.read_text()
        data = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
        assert load_ensemble(data).name == "storefront"
        assert result.stderr.splitlines()[-1] == (
            f"wrote {out}: 4 allocation(s) from nomad, 10 item(s) dropped"
        )


def test_a_compose_file_without_a_name_is_named_after_its_directory(tmp_path: Path) -> None:
    project = tmp_path / "billing"
    project.mkdir()
    (project / "compose.yaml").write_text("services:\n  app: {image: example/app:1}\n")
    result = CliRunner().invoke(translate_command, [str(project / "compose.yaml")])
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["name"] == "billing"


def test_reads_stdin() -> None:
    text = (MANIFESTS / "compose-shop.yaml").read_text()
    result = CliRunner().invoke(translate_command, ["-"], input=text)
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["name"] == "shop"


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n"
        "    spec:\n      containers: [{name: c}]\n"
    )
    result = CliRunner().invoke(translate_command, [str(bad)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {bad}: spec.template.spec.containers[0].image: required\n"
    missing = CliRunner().invoke(translate_command, [str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "Traceback" not in missing.output
