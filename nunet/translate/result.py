"""What a translation returns: the ensemble document and everything it could not express."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Source = Literal["k8s", "nomad", "compose"]
SOURCES: tuple[Source, ...] = ("k8s", "nomad", "compose")


@dataclass(frozen=True)
class Dropped:
    """One piece of the source the ensemble cannot say: where, what it was, and why."""

    path: str  # where in the source, e.g. `spec.template.spec.containers[0].env[2].valueFrom`
    what: str  # the value, compactly
    why: str  # for a person: what the ensemble does instead, or why nothing can

    def __str__(self) -> str:
        return f"{self.path}: {self.what} ({self.why})"


@dataclass(frozen=True)
class Translation:
    """A native `nunet/v1` ensemble document and the list of what did not make it in."""

    document: dict[str, Any]
    dropped: tuple[Dropped, ...]
    source: Source
