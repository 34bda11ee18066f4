"""The JSON Schema (draft 2020-12) of the native ensemble document, for editors and other tools.

It states the shapes the reader accepts (keys, types, unit spellings, enums); the rules between
fields (placement, cycles, supervision) are the reader's alone, so a document that validates
here may still be refused by `load_ensemble` with a precise message.
"""

from __future__ import annotations

from typing import Any

from nunet.capability.model import GPU_VENDORS
from nunet.ensemble.model import EXECUTORS, AllocationType, Restart, Strategy

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SIZE_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?|\.[0-9]+)\s*([KMGTP]iB|B)?\s*$"
DURATION_PATTERN = r"^\s*(([0-9]+(\.[0-9]+)?|\.[0-9]+)(ms|us|d|h|m|s))+\s*$"
BANDWIDTH_PATTERN = (
    r"^\s*([0-9]+(\.[0-9]+)?|\.[0-9]+)\s*([kKmMgGtT]?(bit/s|bps)|[kKmMgGtT]?(Bit/s|Bps))?\s*$"
)


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}}


def _names() -> dict[str, Any]:
    return {"type": "object", "propertyNames": {"pattern": NAME_PATTERN}}


def ensemble_json_schema() -> dict[str, Any]:
    """The schema of a native (`version: nunet/v1`) ensemble document."""
    port = {"type": "integer", "minimum": 1, "maximum": 65535}
    command = {"oneOf": [{"type": "string", "minLength": 1}, _strings()]}
    location_rule = {
        "oneOf": [
            {"type": "string", "minLength": 1},
            _object(
                {
                    "continent": {"type": "string"},
                    "country": {"type": "string"},
                    "city": {"type": "string"},
                    "asn": {"type": ["integer", "string"]},
                }
            ),
        ]
    }
    gpu = _object(
        {
            "vram": _ref("size"),
            "vendor": {"enum": ["", *GPU_VENDORS]},
            "model": {"type": "string"},
            "compute_capability": {"type": ["string", "number"]},
            "count": {"type": "integer", "minimum": 0},
        }
    )
    defs: dict[str, Any] = {
        "size": {
            "description": "bytes, or a binary unit: 512MiB, 4GiB (decimal GB is refused)",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": SIZE_PATTERN},
            ],
        },
        "duration": {
            "description": "30s, 5m, 1h30m, 250ms (a plain number is refused)",
            "type": "string",
            "pattern": DURATION_PATTERN,
        },
        "bandwidth": {
            "description": "bits per second, or 100Mbit/s, 1Gbps",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": BANDWIDTH_PATTERN},
            ],
        },
        "allocation": _object(
            {
                "type": {"enum": [t.value for t in AllocationType]},
                "executor": {"enum": list(EXECUTORS)},
                "resources": _object(
                    {
                        "cpu": {"type": "number", "exclusiveMinimum": 0, "maximum": 1024},
                        "ram": _ref("size"),
                        "disk": _ref("size"),
                        "gpus": {
                            "oneOf": [
                                {"type": "integer", "minimum": 0},
                                gpu,
                                {"type": "array", "items": gpu},
                            ]
                        },
                    }
                ),
                "execution": _object(
                    {
                        "image": {"type": "string", "minLength": 1},
                        "command": command,
                        "entrypoint": _strings(),
                        "env": {
                            "type": "object",
                            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                            "additionalProperties": {"type": "string"},
                        },
                        "working_dir": {"type": "string", "pattern": "^/"},
                    },
                    ("image",),
                ),
                "inputs": {
                    "type": "array",
                    "items": _object(
                        {
                            "source": {"type": "string", "minLength": 1},
                            "target": {"type": "string", "pattern": "^/"},
                            "checksum": {"type": "string", "pattern": "^([a-z0-9]+:[0-9a-f]+)?$"},
                        },
                        ("source", "target"),
                    ),
                },
                "outputs": {
                    "type": "array",
                    "items": _object(
                        {
                            "path": {"type": "string", "pattern": "^/"},
                            "destination": {"type": "string", "minLength": 1},
                            "on_failure": {"type": "boolean"},
                        },
                        ("path", "destination"),
                    ),
                },
                "healthcheck": _object(
                    {
                        "exec": command,
                        "interval": _ref("duration"),
                        "timeout": _ref("duration"),
                        "retries": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "start_period": _ref("duration"),
                    },
                    ("exec",),
                ),
                "dns_name": {"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
                "keys": _strings(),
                "provision": _strings(),
                "restart": {"enum": [r.value for r in Restart]},
                "timeouts": _object({"start": _ref("duration"), "run": _ref("duration")}),
                "depends_on": _strings(),
                "privileged": {"type": "boolean"},
            },
            ("execution",),
        ),
        "node": _object(
            {
                "allocations": {**_strings(), "minItems": 1},
                "ports": {
                    "type": "array",
                    "items": _object(
                        {
                            "public": port,
                            "private": port,
                            "allocation": {"type": "string", "minLength": 1},
                        },
                        ("public", "private", "allocation"),
                    ),
                },
                "location": _object(
                    {
                        "accept": {"type": "array", "items": location_rule},
                        "reject": {"type": "array", "items": location_rule},
                    }
                ),
                "peer": {"type": "string", "pattern": "^did:"},
                "redundancy": {"type": "integer", "minimum": 0, "maximum": 64},
                "require": {"type": ["string", "object"]},
            },
            ("allocations",),
        ),
        "edge": _object(
            {
                "between": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "rtt": _ref("duration"),
                "bandwidth": _ref("bandwidth"),
            },
            ("between",),
        ),
        "supervisor": _object(
            {
                "strategy": {"enum": [s.value for s in Strategy]},
                "intensity": _object(
                    {
                        "restarts": {"type": "integer", "minimum": 0},
                        "period": _ref("duration"),
                    }
                ),
                "children": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "oneOf": [
                            {"type": "string", "minLength": 1},
                            _object({"allocation": {"type": "string"}}, ("allocation",)),
                            _object({"supervisor": _ref("supervisor")}, ("supervisor",)),
                            _object({"ensemble": {"type": "string"}}, ("ensemble",)),
                        ]
                    },
                },
            },
            ("children",),
        ),
        "contract": _object(
            {
                "currency": {"type": "string", "pattern": "^[A-Za-z0-9]{2,12}$"},
                "max_price": _object(
                    {
                        k: {"type": "number", "minimum": 0}
                        for k in ("cpu", "ram", "disk", "gpu", "per_job")
                    }
                    | {"currency": {"type": "string"}}
                ),
                "budget": {"type": "number", "exclusiveMinimum": 0},
                "payment_interval": _ref("duration"),
                "grace_period": _ref("duration"),
                "termination": _object({"notice": _ref("duration")}),
            }
        ),
        "ensemble": _object(
            {
                "version": {"const": "nunet/v1"},
                "name": {"type": "string", "pattern": NAME_PATTERN},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "metadata": {"type": "object"},
                "allocations": {
                    **_names(),
                    "minProperties": 1,
                    "additionalProperties": _ref("allocation"),
                },
                "nodes": {**_names(), "minProperties": 1, "additionalProperties": _ref("node")},
                "edges": {"type": "array", "items": _ref("edge")},
                "supervisor": _ref("supervisor"),
                "ensembles": {**_names(), "additionalProperties": _ref("ensemble")},
                "contract": _ref("contract"),
            },
            ("allocations", "nodes"),
        ),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nunet.io/schemas/ensemble.schema.json",
        "title": "nunet ensemble (native dialect, version nunet/v1)",
        "description": (
            "A job definition: allocations placed on nodes, edges between nodes, a supervisor "
            "tree and nested sub-ensembles. See docs/ensembles.md."
        ),
        "$ref": "#/$defs/ensemble",
        "required": ["version"],
        "$defs": defs,
    }
