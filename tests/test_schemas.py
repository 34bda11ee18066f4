"""The schemas in schemas/ are current, and real values validate against them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import msgspec
import pytest
import yaml

from nunet.actor import Envelope, Handle
from nunet.identity import KeyPair
from nunet.node import NodeConfig

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def load(name: str) -> dict[str, object]:
    schema: dict[str, object] = json.loads((SCHEMAS / name).read_text())
    return schema


def test_committed_schemas_match_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(SCHEMAS / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_real_envelope_validates_and_a_broken_one_does_not() -> None:
    key = KeyPair.generate()
    envelope = Envelope.create(
        Handle(key.did, "node", key.did),
        Handle(key.did, "node", key.did),
        "/public/status",
        {"a": 1},
    )
    as_json = json.loads(msgspec.json.encode(envelope))
    jsonschema.validate(as_json, load("envelope.schema.json"))
    as_json[2] = "no-slash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(as_json, load("envelope.schema.json"))


def test_the_documented_config_example_validates() -> None:
    example = yaml.safe_load((SCHEMAS.parent / "docs" / "config.example.yaml").read_text())
    jsonschema.validate(example, load("node-config.schema.json"))
    msgspec.convert(example, NodeConfig)


def test_the_openapi_document_describes_every_endpoint() -> None:
    spec = load("api.openapi.json")
    paths = spec["paths"]
    assert isinstance(paths, dict)
    assert set(paths) == {
        "/api/v1/health",
        "/api/v1/actor/invoke",
        "/api/v1/actor/send",
        "/api/v1/actor/broadcast",
    }
