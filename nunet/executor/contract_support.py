"""What every backend needs to honour the executor contract the same way: checking a spec, a
capped log book with `since` and `follow`, and measuring output directories."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Literal

import msgspec

from nunet.executor.errors import InvalidSpec
from nunet.executor.executor import LogLine
from nunet.executor.spec import ExecutionSpec, nesting

ENV_NAME = re.compile(r"^[^=\x00]+$")


def check_spec(spec: ExecutionSpec, *, allow_privileged: bool) -> ExecutionSpec:
    """The spec, re-validated against its declared constraints and the rules every backend
    shares; InvalidSpec naming the field and the fix otherwise.

    Structs built in code are not validated by msgspec (only decoded ones are), so a spec is
    round-tripped through its own schema here, at the executor's boundary.
    """
    try:
        checked = msgspec.convert(msgspec.to_builtins(spec), ExecutionSpec)
    except msgspec.ValidationError as error:
        raise InvalidSpec(f"execution spec {spec.id!r}: {_field_first(str(error))}") from None
    problems = [
        *(
            f"inputs[{i}].source {m.source!r} is not an absolute host path"
            for i, m in enumerate(checked.inputs)
            if not os.path.isabs(m.source)
        ),
        *(
            f"inputs[{i}].target {m.target!r} is not an absolute path"
            for i, m in enumerate(checked.inputs)
            if not m.target.startswith("/")
        ),
        *_output_problems(checked),
        *(
            f"env name {name!r} is empty or holds '=' or NUL"
            for name in checked.env
            if not ENV_NAME.match(name)
        ),
        *(
            ["entrypoint is empty: leave it out (None) to use the image's own"]
            if checked.entrypoint == ()
            else []
        ),
        *(
            ["privileged executions are not allowed on this node (executors.*.allow_privileged)"]
            if checked.privileged and not allow_privileged
            else []
        ),
    ]
    if problems:
        raise InvalidSpec(f"execution spec {spec.id!r}: " + "; ".join(problems))
    return checked


def _output_problems(spec: ExecutionSpec) -> Iterator[str]:
    """Each output is an absolute host directory of its own at an absolute target of its own:
    no two outputs share or nest their sources or targets, and no output shares or nests its
    target with an input's (one would hide the other, or land in the other's directory)."""
    for i, output in enumerate(spec.outputs):
        if not os.path.isabs(output.source):
            yield f"outputs[{i}].source {output.source!r} is not an absolute host path"
        if not output.target.startswith("/"):
            yield f"outputs[{i}].target {output.target!r} is not an absolute path"
    sources = [(f"outputs[{i}].source", o.source) for i, o in enumerate(spec.outputs)]
    targets = [(f"outputs[{i}].target", o.target) for i, o in enumerate(spec.outputs)]
    for paths in (sources, targets):
        for at, later in enumerate(paths):
            for earlier in paths[:at]:
                if clash := _clash(later, earlier):
                    yield f"{clash}: each output needs a directory of its own"
    inputs = [(f"inputs[{k}].target", m.target) for k, m in enumerate(spec.inputs)]
    for target in targets:
        for input_target in inputs:
            if clash := _clash(target, input_target):
                yield f"{clash}: an output may not share or nest with an input"


def _clash(path: tuple[str, str], other: tuple[str, str]) -> str:
    """How (field, absolute path) `path` clashes with `other`: the same directory, inside it or
    holding it, said naming both fields; "" when apart (or either is not absolute: said elsewhere)."""
    (field, given), (other_field, other_given) = path, other
    if not (given.startswith("/") and other_given.startswith("/")):
        return ""
    relation = nesting(given, other_given)
    return f"{field} {given!r} {relation} {other_field} {other_given!r}" if relation else ""


def _field_first(message: str) -> str:
    """msgspec says `Expected ... - at `$.limits.cpu``; say the field first."""
    text, _, where = message.rpartition(" - at ")
    if not text or not where.startswith("`$."):
        return message
    return f"{where.strip('`').removeprefix('$.')}: {text}"


def directory_bytes(path: str) -> int:
    """Bytes of the regular files under `path` (links not followed); blocking: run it off the loop."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
    return total


def outputs_bytes(sources: Iterable[str]) -> int:
    """Bytes of the regular files under every output directory together (what
    `Limits.output_bytes` bounds); blocking: run it off the loop."""
    return sum(directory_bytes(source) for source in sources)


Stream = Literal["stdout", "stderr", "console"]
_CODE: dict[str, bytes] = {"stdout": b"o", "stderr": b"e", "console": b"c"}
_STREAM: dict[int, Stream] = {ord("o"): "stdout", ord("e"): "stderr", ord("c"): "console"}


class LogBook:
    """One execution's log lines in a file: the first `limit` bytes of lines are kept (each line
    costs its bytes and its newline), everything from the first line that does not fit is
    dropped and counted. Readers filter by `since` and `follow` new lines until `close`.

    A record on disk is `<stream code><seconds> <text>\\n`; appending a batch writes page cache
    only, so it stays on the event loop. Nothing of a log is held in memory beyond one batch.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.kept = 0
        self.dropped = 0
        self._full = False
        self._closed = False
        self._grew = asyncio.Event()  # replaced at each growth: readers wait on the one they saw
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        if self._file.tell():  # reopened after a node restart: what it already holds counts
            records = path.read_bytes().splitlines()
            self.kept = sum(len(r.partition(b" ")[2]) + 1 for r in records)

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, stream: Stream, lines: Iterable[bytes], at: float) -> None:
        """Add complete lines (without their newlines) seen at `at`; the rest once full is dropped."""
        if self._closed:
            raise ValueError(f"the log book {self.path} is closed")
        head = _CODE[stream] + repr(at).encode() + b" "
        records = []
        for line in lines:
            cost = len(line) + 1
            if self._full or self.kept + cost > self.limit:
                self._full = True
                self.dropped += cost
                continue
            self.kept += cost
            records.append(head + line + b"\n")
        if records:
            self._file.write(b"".join(records))
            self._file.flush()
            self._notify()

    def drop(self, count: int) -> None:
        """Count bytes dropped without splitting them (the book is full)."""
        self._full = True
        self.dropped += count

    def is_full(self) -> bool:
        return self._full

    def close(self) -> None:
        """No more lines: followers end once they have read everything."""
        if not self._closed:
            self._closed = True
            self._file.close()
            self._notify()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def _notify(self) -> None:
        grew, self._grew = self._grew, asyncio.Event()
        grew.set()

    async def read(
        self, *, follow: bool = False, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        """The kept lines seen at or after `since`; with `follow`, new ones until closed."""
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return
        with file:
            rest = b""
            while True:
                closed, grew = self._closed, self._grew
                while chunk := file.read(READ_CHUNK):
                    records = (rest + chunk).split(b"\n")
                    rest = records.pop()
                    for record in records:
                        line = _parse(record)
                        if since is None or line.at >= since:
                            yield line
                if not follow or closed:
                    return
                await grew.wait()


READ_CHUNK = 1 << 20


def _parse(record: bytes) -> LogLine:
    head, _, text = record.partition(b" ")
    return LogLine(
        stream=_STREAM[head[0]],
        text=text.decode(errors="replace"),
        at=float(head[1:]),
    )
