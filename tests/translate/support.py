"""Helpers shared by the translate tests: every produced document is loaded for real."""

from __future__ import annotations

from pathlib import Path

from nunet.ensemble import Ensemble, load_ensemble
from nunet.translate import Source, Translation, translate

MANIFESTS = Path(__file__).parent / "manifests"


def manifest(name: str) -> str:
    return (MANIFESTS / name).read_text()


def translated(text: str, source: Source | None = None) -> tuple[Translation, Ensemble]:
    """Translate and validate through `load_ensemble`: a document it refuses fails the test."""
    result = translate(text, source)
    return result, load_ensemble(result.document)


def dropped(result: Translation) -> list[str]:
    return [str(item) for item in result.dropped]
