"""Reading a microVM's serial console: the guest init's tagged lines become job output, health
reports and the final exit; everything else is the console's own. Pure: bytes in, facts out.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from nunet.executor.microvm.guest import sentinel

Stream = Literal["stdout", "stderr", "console"]


class Output(msgspec.Struct, frozen=True):
    """One line for the execution's log (text without its newline)."""

    stream: Stream
    text: str


class Started(msgspec.Struct, frozen=True):
    """The guest is about to run the job."""


class HealthReport(msgspec.Struct, frozen=True):
    status: int  # the health check's exit status


class NotFound(msgspec.Struct, frozen=True):
    program: str


class GuestError(msgspec.Struct, frozen=True):
    reason: str


class Exited(msgspec.Struct, frozen=True):
    code: int
    oom_kills: int


Fact = Output | Started | HealthReport | NotFound | GuestError | Exited


class ConsoleParser:
    """Feed it console bytes as they come; it returns what they said, line by line."""

    def __init__(self, nonce: str, *, max_line: int = 64 << 10) -> None:
        self._tag = sentinel(nonce)
        self._partial = bytearray()
        self._max_line = max_line

    def feed(self, data: bytes) -> list[Fact]:
        self._partial += data
        facts: list[Fact] = []
        while True:
            end = self._partial.find(b"\n")
            if end < 0:
                # A console line longer than any sane one is cut rather than held forever.
                if len(self._partial) > self._max_line:
                    facts += self._line(bytes(self._partial))
                    self._partial.clear()
                return facts
            line = bytes(self._partial[:end])
            del self._partial[: end + 1]
            facts += self._line(line)

    def close(self) -> list[Fact]:
        """The console ended: a last line without its newline."""
        rest, self._partial = bytes(self._partial), bytearray()
        return self._line(rest) if rest else []

    def _line(self, raw: bytes) -> list[Fact]:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        at = text.find(self._tag)
        if at < 0:
            return [Output("console", text)] if text else []
        facts: list[Fact] = []
        if at > 0:  # something wrote to the console without a newline before our tag
            facts.append(Output("console", text[:at]))
        kind, _, rest = text[at + len(self._tag) :].partition(" ")
        facts.append(_tagged(kind, rest))
        return facts


def _tagged(kind: str, rest: str) -> Fact:
    if kind == "out":
        return Output("stdout", rest)
    if kind == "err":
        return Output("stderr", rest)
    if kind == "started":
        return Started()
    if kind == "health":
        return HealthReport(_int(rest, 1))
    if kind == "notfound":
        return NotFound(rest)
    if kind == "exit":
        code, _, oom = rest.partition(" ")
        return Exited(_int(code, 255), _int(oom, 0))
    if kind == "error":
        return GuestError(rest)
    return Output("console", f"{kind} {rest}".rstrip())


def _int(text: str, default: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return default
