"""Which system wrote a text, and what no system wrote."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.translate import Source, TranslateError, translate
from tests.translate.support import manifest


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("k8s-web.yaml", "k8s"),
        ("k8s-job.yaml", "k8s"),
        ("k8s-statefulset.yaml", "k8s"),
        ("nomad-web.nomad.hcl", "nomad"),
        ("nomad-batch.json", "nomad"),
        ("compose-shop.yaml", "compose"),
    ],
)
def test_the_source_is_detected_from_the_content(name: str, source: str) -> None:
    assert translate(manifest(name)).source == source


@pytest.mark.parametrize("text", ["", "just words", "a: 1\n", "[1, 2]\n", "---\n---\n"])
def test_text_no_system_wrote_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(TranslateError, match=r"--from|nothing to translate"):
        translate(text)


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(TranslateError, match="source: 'swarm' is not one of"):
        translate("services: {}", "swarm")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_translates_or_is_refused_clearly(text: str) -> None:
    sources: tuple[Source | None, ...] = (None, "k8s", "nomad", "compose")
    for source in sources:
        refusal = ""
        try:
            translate(text, source)
        except TranslateError as exc:
            refusal = str(exc) or "(an empty message)"
        assert refusal != "(an empty message)"
