"""Documents for the ensemble tests: a minimal valid one, and a way to break one field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from nunet.ensemble import EnsembleError, load_ensemble

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
IMAGE = "nunet-test/busybox:1"


def base() -> dict[str, Any]:
    """The smallest valid native document: one task on one node."""
    return {
        "version": "nunet/v1",
        "allocations": {"a": {"execution": {"image": IMAGE}}},
        "nodes": {"n1": {"allocations": ["a"]}},
    }


def two_services() -> dict[str, Any]:
    """Two services on two nodes."""
    doc = base()
    doc["allocations"] = {
        "a": {"type": "service", "execution": {"image": IMAGE}},
        "b": {"type": "service", "execution": {"image": IMAGE}},
    }
    doc["nodes"] = {"n1": {"allocations": ["a"]}, "n2": {"allocations": ["b"]}}
    return doc


def put(doc: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of `doc` with `value` at the dotted `path` (mappings created on the way)."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    here: Any = out
    for key in parents:
        here = here.setdefault(key, {})
    here[last] = value
    return out


def drop(doc: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    here: Any = out
    for key in parents:
        here = here[key]
    del here[last]
    return out


def problems(data: object) -> list[str]:
    """Every problem `load_ensemble` reports, as `path: message` lines; [] when it loads."""
    try:
        load_ensemble(data)
    except EnsembleError as error:
        found = [str(problem) for problem in error.problems]
    else:
        return []
    assert found, "an EnsembleError always carries problems"
    return found
