"""Every example in docs/examples loads, round-trips and (native ones) validates against the
JSON Schema, which is also kept in schemas/ensemble.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from nunet.ensemble import (
    EnsembleError,
    dump_ensemble,
    ensemble_json_schema,
    flatten,
    load_ensemble,
    read_ensemble,
)
from tests.ensemble.support import EXAMPLES, base, put

FILES = sorted(EXAMPLES.glob("*.yaml"))
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "ensemble.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(ensemble_json_schema())
RUNNABLE_IMAGE = "nunet-test/busybox:1"


def test_the_examples_named_in_the_docs_exist() -> None:
    assert {p.name for p in FILES} >= {
        "hello-task.yaml",
        "web-stack.yaml",
        "nested.yaml",
        "nunet-v1.yaml",
        "gpu-training.yaml",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_example_loads_and_round_trips(path: Path) -> None:
    ensemble = read_ensemble(path)
    assert load_ensemble(dump_ensemble(ensemble)) == ensemble
    assert flatten(ensemble).start_order()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_example_runs_the_local_test_image(path: Path) -> None:
    flat = flatten(read_ensemble(path))
    assert {a.allocation.execution.image for a in flat.allocations.values()} == {RUNNABLE_IMAGE}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_example_dump_validates_against_the_schema(path: Path) -> None:
    VALIDATOR.validate(dump_ensemble(read_ensemble(path)))
    document = yaml.safe_load(path.read_text())
    if document["version"] == "nunet/v1":
        VALIDATOR.validate(document)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = ensemble_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_committed_schema_file_is_current() -> None:
    rendered = json.dumps(ensemble_json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text() == rendered, "regenerate schemas/ensemble.schema.json"


BAD: list[tuple[str, dict[str, Any]]] = [
    ("no version", {k: v for k, v in base().items() if k != "version"}),
    ("another version", put(base(), "version", "nunet/v2")),
    ("an unknown key", put(base(), "allocs", {})),
    ("a plain-number duration", put(base(), "allocations.a.timeouts", {"run": 30})),
    ("a decimal size", put(base(), "allocations.a.resources", {"ram": "4GB"})),
    ("an unknown executor", put(base(), "allocations.a.executor", "podman")),
    (
        "an upper-case allocation name",
        put(base(), "allocations", {"A": {"execution": {"image": "x"}}}),
    ),
    ("a relative working dir", put(base(), "allocations.a.execution.working_dir", "w")),
    ("a three-node edge", put(base(), "edges", [{"between": ["a", "b", "c"]}])),
    ("an unknown strategy", put(base(), "supervisor", {"strategy": "one", "children": ["a"]})),
    ("an empty node", put(base(), "nodes.n1.allocations", [])),
    ("a zero budget", put(base(), "contract", {"budget": 0})),
]


@pytest.mark.parametrize(("what", "doc"), BAD, ids=[w for w, _ in BAD])
def test_the_schema_refuses_what_the_reader_refuses(what: str, doc: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(doc), what
    with pytest.raises(EnsembleError):
        load_ensemble(doc)
