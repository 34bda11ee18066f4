"""The entry points: a parsed document, YAML/JSON text or a file becomes a validated Ensemble,
or an EnsembleError listing every problem (YAML syntax errors included, with line and column).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

from nunet.ensemble import rules
from nunet.ensemble.errors import EnsembleError, Problem
from nunet.ensemble.fields import ROOT, Collector
from nunet.ensemble.model import Ensemble
from nunet.ensemble.reader import NATIVE_VERSION, read_native
from nunet.ensemble.v1 import V1_VERSION, Renames, translate_v1

_TOO_DEEP = "is nested too deeply, or a YAML alias refers to itself; write it out without the cycle"
MAX_BYTES = 4 << 20  # an ensemble file larger than this is a mistake, not a job


def load_ensemble(data: object) -> Ensemble:
    """An Ensemble from a parsed YAML/JSON document of either dialect."""
    try:
        return _load(data)
    except RecursionError:
        raise EnsembleError([Problem(path=ROOT, message=_TOO_DEEP)]) from None


def _load(data: object) -> Ensemble:
    c = Collector()
    renames = Renames()
    doc = data
    if isinstance(data, Mapping) and data.get("version") == V1_VERSION:
        doc = translate_v1(data, c, renames)
    elif isinstance(data, Mapping) and "version" in data and data["version"] != NATIVE_VERSION:
        c.add(
            "version",
            f"{data['version']!r} is not a known version; write {NATIVE_VERSION} (native) "
            f"or {V1_VERSION} (NuNet DMS)",
        )
        raise EnsembleError(c.problems)
    translated = len(c.problems)  # the translator's problems already carry V1 paths
    ensemble = c.call(None, ROOT, read_native, doc, c)
    if ensemble is not None:
        c.problems += _cross_checked(ensemble, c.problems)
    if c.problems or ensemble is None:
        native = c.problems[translated:]
        raise EnsembleError(c.problems[:translated] + _v1_paths(native, renames))
    return ensemble


def parse_ensemble_text(text: str, *, source: str = "<text>") -> Ensemble:
    """An Ensemble from YAML or JSON text; `source` names it in syntax errors."""
    return load_ensemble(_parse(text, source))


def read_ensemble(path: Path | str) -> Ensemble:
    """An Ensemble from a YAML or JSON file."""
    where = Path(path)
    try:
        if where.stat().st_size > MAX_BYTES:
            raise EnsembleError(
                [
                    Problem(
                        path=str(where),
                        message=f"is larger than {MAX_BYTES >> 20}MiB; is it an ensemble?",
                    )
                ]
            )
        text = where.read_text(encoding="utf-8")
    except OSError as error:
        raise EnsembleError(
            [Problem(path=str(where), message=f"cannot be read ({error.strerror}); check the path")]
        ) from None
    except UnicodeDecodeError:
        raise EnsembleError(
            [Problem(path=str(where), message="is not UTF-8 text; save it as UTF-8 YAML or JSON")]
        ) from None
    return parse_ensemble_text(text, source=str(where))


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class refuses unhashable keys with their mark
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice; give each key once",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse(text: str, source: str) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        what = error.problem or error.context or "not valid YAML"
        raise EnsembleError(
            [
                Problem(
                    path=where, message=f"YAML syntax: {what}; fix the text at this line and column"
                )
            ]
        ) from None
    except yaml.YAMLError as error:
        what = " ".join(str(error).split())
        raise EnsembleError([Problem(path=source, message=f"YAML: {what}; fix the text")]) from None
    except RecursionError:
        raise EnsembleError([Problem(path=source, message=_TOO_DEEP)]) from None


def _cross_checked(ensemble: Ensemble, field_problems: list[Problem]) -> list[Problem]:
    """The rules' problems, less those that only echo a field already reported broken (a
    bad `type` must not also be blamed for its healthcheck)."""
    found = Collector()
    rules.check(ensemble, found)
    broken = {_entity(p.path) for p in field_problems}
    nodes_broken = any(root.rpartition("nodes")[1] for root in broken)
    return [
        p
        for p in found.problems
        if _entity(p.path) not in broken and not (nodes_broken and "on no node" in p.message)
    ]


def _entity(path: str) -> str:
    """`allocations.web`, `nodes.n1`, `edges`, `supervisor` (under any `ensembles.x.`)."""
    parts = path.split(".")
    head: list[str] = []
    while len(parts) > 2 and parts[0] == "ensembles":
        head += parts[:2]
        parts = parts[2:]
    if parts[0] in ("allocations", "nodes") and len(parts) > 1:
        return ".".join([*head, *parts[:2]])
    return ".".join([*head, parts[0].partition("[")[0]])


def _v1_paths(problems: list[Problem], renames: Renames) -> list[Problem]:
    return [Problem(path=renames.v1_path(p.path), message=p.message) for p in problems]
