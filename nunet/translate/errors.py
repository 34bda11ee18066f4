"""The one error a translation raises: input that cannot be read, naming where in the source."""

from __future__ import annotations

from nunet.errors import NunetError


class TranslateError(NunetError, ValueError):
    """Malformed or unsupported input; `path` is where in the source document (or `line 3`)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem
