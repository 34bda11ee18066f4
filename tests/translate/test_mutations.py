"""Realistic manifests with one value changed at random: each either translates into a document
`load_ensemble` accepts, or is refused with a `TranslateError`; nothing else escapes."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.ensemble import load_ensemble
from nunet.translate import TranslateError, translate
from tests.translate.support import manifest

SOURCES = {
    "k8s-web.yaml": list(yaml.safe_load_all(manifest("k8s-web.yaml"))),
    "k8s-job.yaml": list(yaml.safe_load_all(manifest("k8s-job.yaml"))),
    "k8s-statefulset.yaml": list(yaml.safe_load_all(manifest("k8s-statefulset.yaml"))),
    "compose-shop.yaml": [yaml.safe_load(manifest("compose-shop.yaml"))],
    "nomad-batch.json": [json.loads(manifest("nomad-batch.json"))],
}
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70000),
    st.sampled_from(["", "x", "500m", "1Gi", "10s", "8080:80", "Never", "CMD", "a b", "-1"]),
    st.lists(st.sampled_from(["a", "CMD", "1"]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "name", "image"]), st.just("x"), max_size=2),
)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _leaves(item, (*path, index))
    return out


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(document)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SOURCES)), st.data(), VALUES)
def test_a_changed_value_translates_to_a_valid_ensemble_or_is_refused(
    name: str, data: st.DataObject, value: Any
) -> None:
    documents = SOURCES[name]
    index = data.draw(st.integers(min_value=0, max_value=len(documents) - 1))
    path = data.draw(st.sampled_from(_leaves(documents[index])))
    changed = [*documents[:index], _replace(documents[index], path, value), *documents[index + 1 :]]
    text = json.dumps(changed[0]) if name.endswith(".json") else yaml.safe_dump_all(changed)
    try:
        result = translate(text)
    except TranslateError as exc:
        refusal = str(exc)
    else:
        load_ensemble(result.document)
        return
    # refused, naming a place in the source (the reader's last guard names the allocation's)
    assert refusal.split(":")[0].strip()
