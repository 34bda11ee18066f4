"""Text and files: YAML and JSON, syntax errors with line and column, duplicate keys, unreadable
files; never a stack trace, always an EnsembleError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nunet.ensemble import EnsembleError, Problem, load_ensemble, parse_ensemble_text, read_ensemble
from nunet.errors import NunetError
from tests.ensemble.support import base

VALID = """\
version: nunet/v1
allocations:
  a:
    execution: {image: busybox:1}
nodes:
  n1: {allocations: [a]}
"""


def messages(text: str, source: str = "<text>") -> list[str]:
    with pytest.raises(EnsembleError) as caught:
        parse_ensemble_text(text, source=source)
    return [str(p) for p in caught.value.problems]


def test_yaml_and_json_texts_load_the_same_ensemble() -> None:
    assert parse_ensemble_text(VALID) == parse_ensemble_text(
        json.dumps(base()).replace("nunet-test/busybox:1", "busybox:1")
    )


def test_a_yaml_syntax_error_names_the_line_and_column() -> None:
    text = VALID.replace("n1: {allocations: [a]}", "n1: {allocations: [a}")
    found = messages(text, source="job.yaml")
    assert len(found) == 1
    assert found[0].startswith("job.yaml:6:23: YAML syntax: ")
    assert found[0].endswith("fix the text at this line and column")


def test_bad_indentation_is_a_syntax_problem_not_a_traceback() -> None:
    found = messages("version: nunet/v1\nallocations:\n  a:\n execution: x\n")
    assert found[0].startswith("<text>:4:2: YAML syntax: ")


def test_a_key_given_twice_is_refused_with_its_line() -> None:
    text = VALID.replace("nodes:", "allocations:\n  b: {}\nnodes:")
    found = messages(text, source="dup.yaml")
    assert found == [
        "dup.yaml:5:1: YAML syntax: the key 'allocations' is given twice; give each key once; "
        "fix the text at this line and column"
    ]


def test_two_documents_in_one_text_are_refused() -> None:
    found = messages(VALID + "---\n" + VALID)
    assert "YAML syntax: " in found[0]


def test_an_empty_text_is_not_a_mapping() -> None:
    assert messages("") == [
        "(document): null is not a mapping; write it like {version: nunet/v1, ...}"
    ]


def test_read_ensemble_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(VALID)
    assert read_ensemble(path) == parse_ensemble_text(VALID)
    assert read_ensemble(str(path)) == parse_ensemble_text(VALID)


def test_a_missing_file_is_a_problem_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(EnsembleError) as caught:
        read_ensemble(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: cannot be read (No such file or directory); check the path"
    ]


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EnsembleError) as caught:
        read_ensemble(path)
    assert caught.value.problems[0].message == "is not UTF-8 text; save it as UTF-8 YAML or JSON"


def test_syntax_errors_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: [\n")
    with pytest.raises(EnsembleError) as caught:
        read_ensemble(path)
    assert caught.value.problems[0].path.startswith(f"{path}:2:1")


def test_the_error_is_a_nunet_error_listing_every_problem() -> None:
    doc = base()
    doc["allocations"]["a"]["resources"] = {"ram": "4G", "cpu": 0}
    with pytest.raises(NunetError) as caught:
        load_ensemble(doc)
    error = caught.value
    assert isinstance(error, EnsembleError)
    assert len(error.problems) == 2
    text = str(error)
    assert text.startswith("invalid ensemble (2 problems):\n")
    assert "allocations.a.resources.ram: " in text
    assert "allocations.a.resources.cpu: " in text


def test_a_problem_prints_as_path_colon_message() -> None:
    problem = Problem(
        path="allocations.web.resources.ram", message='"4 GB" is not a size; use 4GiB'
    )
    assert str(problem) == 'allocations.web.resources.ram: "4 GB" is not a size; use 4GiB'
    assert str(EnsembleError([problem])) == f"invalid ensemble: {problem}"


def test_an_error_without_problems_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        EnsembleError([])


def test_a_yaml_alias_inside_itself_is_a_problem() -> None:
    text = VALID + "metadata: &m {again: *m}\n"
    assert messages(text) == [
        "(document): is nested too deeply, or a YAML alias refers to itself; write it out "
        "without the cycle"
    ]


def test_a_v1_supervisor_inside_itself_is_a_problem() -> None:
    text = (
        "version: V1\nallocations: {a: {execution: {image: x}}}\nnodes: {n: {allocations: [a]}}\n"
        "supervisor: &s {allocations: [a, {supervisor: *s}]}\n"
    )
    assert messages(text)[0].startswith("(document): is nested too deeply")


def test_absurd_nesting_is_a_problem_not_a_crash() -> None:
    assert messages("[" * 5000) == [
        "<text>: is nested too deeply, or a YAML alias refers to itself; write it out without "
        "the cycle"
    ]


def test_control_characters_are_a_yaml_problem() -> None:
    assert messages("a: b\x07") == [
        "<text>: YAML: unacceptable character #x0007: special characters are not allowed in "
        '"<unicode string>", position 4; fix the text'
    ]


def test_a_mapping_used_as_a_key_is_a_yaml_problem() -> None:
    found = messages("? version: nunet/v1\n")
    assert found[0].startswith("<text>:1:3: YAML syntax: found unhashable key")
