"""Docker's multiplexed stream (attach, exec, logs without a TTY) back into lines per stream.

Each frame is an 8-byte header (stream: 1 stdout, 2 stderr; three zero bytes; the payload's length
as a big-endian u32) and the payload. Frames arrive cut anywhere; lines span frames.
"""

from __future__ import annotations

from typing import Literal

Stream = Literal["stdout", "stderr"]
HEADER = 8
MAX_LINE = 64 << 10
"""A line longer than this is cut into pieces of it: a job printing without newlines must not
grow the node's memory."""

_STREAMS: dict[int, Stream] = {1: "stdout", 2: "stderr"}


class FrameDecoder:
    """Feed it bytes as they come; it gives back (stream, payload) pieces, never buffering more
    than one header."""

    def __init__(self) -> None:
        self._header = b""
        self._stream: Stream = "stdout"
        self._left = 0  # payload bytes of the current frame not yet seen

    def feed(self, data: bytes) -> list[tuple[Stream, bytes]]:
        out: list[tuple[Stream, bytes]] = []
        view = memoryview(data)
        while view:
            if self._left:
                piece = view[: self._left]
                out.append((self._stream, bytes(piece)))
                self._left -= len(piece)
                view = view[len(piece) :]
                continue
            need = HEADER - len(self._header)
            self._header += bytes(view[:need])
            view = view[need:]
            if len(self._header) == HEADER:
                self._stream = _STREAMS.get(self._header[0], "stdout")
                self._left = int.from_bytes(self._header[4:8], "big")
                self._header = b""
        return out


class LineSplitter:
    """Bytes of one stream into complete lines (without newlines); keeps at most MAX_LINE pending."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        while len(self._pending) >= MAX_LINE:
            lines.append(self._pending[:MAX_LINE])
            self._pending = self._pending[MAX_LINE:]
        return lines

    def flush(self) -> list[bytes]:
        """The last line if it had no newline."""
        rest, self._pending = self._pending, b""
        return [rest] if rest else []

    def discard(self) -> int:
        """Forget the pending partial line; its byte count."""
        count, self._pending = len(self._pending), b""
        return count
