"""Render the schemas of what crosses a boundary from the code that defines it.

python schemas/generate.py          # rewrite schemas/*.json
python schemas/generate.py --check  # exit 1 if a committed schema is out of date (the tests do this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import msgspec

HERE = Path(__file__).resolve().parent


def envelope_schema() -> dict[str, Any]:
    from nunet.actor import Envelope

    schema = msgspec.json.schema(Envelope)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nunet envelope body"
    schema["description"] = (
        "The signed body of an actor envelope, as an array in field order (msgpack on the wire, "
        "map keys sorted). Wire form: [1, body, Ed25519 signature of body by sender.did]."
    )
    return schema


def api_schema() -> dict[str, Any]:
    from nunet.api import create_app
    from nunet.node import Node

    # Route metadata only: no request is served, so no node is needed to describe the API.
    return create_app(cast(Node, None)).openapi()


def node_config_schema() -> dict[str, Any]:
    from nunet.node import NodeConfig

    schema = msgspec.json.schema(NodeConfig)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nunet node configuration (<home>/config.yaml)"
    return schema


def ensemble_schema() -> dict[str, Any]:
    from nunet.ensemble import ensemble_json_schema

    return ensemble_json_schema()


SCHEMAS = {
    "envelope.schema.json": envelope_schema,
    "api.openapi.json": api_schema,
    "node-config.schema.json": node_config_schema,
    "ensemble.schema.json": ensemble_schema,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in SCHEMAS.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python schemas/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
