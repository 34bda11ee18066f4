"""What a malformed ensemble raises: every problem found, each with the path of the field at
fault and how to fix it, so one run of `nunet validate` shows them all."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from nunet.errors import NunetError


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a document: `path` as `allocations.web.resources.ram`, `message`
    as `"4 GB" is not a size; use 4GiB` (what is wrong; how to fix it)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EnsembleError(NunetError, ValueError):
    """An ensemble document that cannot be used; `problems` lists every fault found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("an EnsembleError needs at least one problem")
        lines = [str(problem) for problem in self.problems]
        head = (
            "invalid ensemble" if len(lines) == 1 else f"invalid ensemble ({len(lines)} problems)"
        )
        super().__init__(
            f"{head}: " + "; ".join(lines)
            if len(lines) == 1
            else f"{head}:\n" + "\n".join(f"  {line}" for line in lines)
        )
