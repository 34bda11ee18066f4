"""The event loop's end of the pipe to a SQLite log's writer process (see sqlite_writer).

It starts the process, sends it sealed batches (one frame, one write per batch), hands each
answer to the log, and tells the log when the process has gone and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from nunet.eventlog import sqlite_writer
from nunet.eventlog.errors import CorruptLog, WriteFailed
from nunet.eventlog.event import EventRecord
from nunet.eventlog.sqlite_writer import (
    ABORT,
    END_OF_BATCH,
    FRAME_HEADER,
    Committed,
    Failed,
    Ready,
    Refused,
    Reply,
)

PROGRAM = sqlite_writer.__file__
_PIPE_SIZE = 1 << 20  # a batch of thousands of records fits the pipe: usually one write
_STDERR_KEPT = 2000  # characters of the writer's last words kept for the error message

OnAnswer = Callable[[Committed | Failed], None]
OnExit = Callable[[str], None]


class WriterChannel(asyncio.SubprocessProtocol):
    """One writer process, as the log's event loop sees it. Start it with WriterChannel.start."""

    def __init__(self, path: Path, on_answer: OnAnswer, on_exit: OnExit) -> None:
        self.path = path
        self._on_answer = on_answer
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._encode_into = msgspec.msgpack.Encoder().encode_into
        self._decode = msgspec.msgpack.Decoder(Reply).decode
        self._inbox = bytearray()
        self._stderr = bytearray()
        self._ready: asyncio.Future[Ready | Refused] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self.pid = 0

    @classmethod
    async def start(
        cls, path: Path, *, keep_fd: int, on_answer: OnAnswer, on_exit: OnExit
    ) -> WriterChannel:
        """Start the writer for `path` and wait until its store is open.

        keep_fd (the log's flock) is inherited, so the lock is held until the writer is gone
        even if this process dies first. CorruptLog if the file is not a usable log.
        """
        channel = cls(path, on_answer, on_exit)
        await channel._loop.subprocess_exec(
            lambda: channel,
            sys.executable,
            "-P",  # not the script's folder on sys.path: nunet/eventlog/ would shadow stdlib names
            PROGRAM,
            str(path),
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(keep_fd,),
            start_new_session=True,  # a Ctrl-C at the terminal is for the node, which then closes
        )
        try:
            first = await asyncio.shield(channel._ready)
        except BaseException:
            await channel.stop()
            raise
        if isinstance(first, Refused):
            await channel.stop()
            if first.kind == "corrupt":
                raise CorruptLog(first.message)
            raise WriteFailed(f"{path}: the writer process could not open the log: {first.message}")
        return channel

    def send(self, records: list[EventRecord], *, ends_batch: bool, abort: bool = False) -> None:
        """Send one part of a batch: one frame, one write to the pipe (buffered if it is full).

        The writer commits the batch when it reads the part that ends it, or rolls it back if
        that part says abort.
        """
        assert self._stdin is not None
        frame = bytearray(FRAME_HEADER.size)
        self._encode_into(records, frame, FRAME_HEADER.size)
        flags = (END_OF_BATCH if ends_batch else 0) | (ABORT if abort else 0)
        FRAME_HEADER.pack_into(frame, 0, len(frame) - FRAME_HEADER.size, flags)
        self._stdin.write(frame)

    async def stop(self) -> None:
        """Close the pipe (the writer commits what it was sent, then exits) and wait for it."""
        if self._stdin is not None:
            self._stdin.close()
        await asyncio.shield(self._closed)

    # -- asyncio.SubprocessProtocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport
        self.pid = transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin
        set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if set_size is not None:
            with contextlib.suppress(OSError):  # a smaller pipe only means more, smaller writes
                fcntl.fcntl(stdin.get_extra_info("pipe").fileno(), set_size, _PIPE_SIZE)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 2:
            self._stderr += data
            del self._stderr[:-_STDERR_KEPT]
            return
        inbox = self._inbox
        inbox += data
        header = FRAME_HEADER.size
        start = 0
        while len(inbox) - start >= header:
            size, _ = FRAME_HEADER.unpack_from(inbox, start)
            end = start + header + size
            if end > len(inbox):
                break
            self._answer(self._decode(memoryview(inbox)[start + header : end]))
            start = end
        del inbox[:start]

    def _answer(self, reply: Reply) -> None:
        if not self._ready.done():
            if isinstance(reply, Ready | Refused):
                self._ready.set_result(reply)
            return
        if isinstance(reply, Committed | Failed):
            self._on_answer(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        """The process has exited and every pipe is closed: every answer has been read."""
        assert self._transport is not None
        cause = self.describe_exit(self._transport.get_returncode())
        self._transport.close()
        if not self._ready.done():
            self._ready.set_exception(
                WriteFailed(f"{self.path}: the writer process {cause} before it opened the log")
            )
        else:
            self._on_exit(cause)
        self._closed.set_result(None)

    def describe_exit(self, returncode: int | None) -> str:
        """How the writer ended, with the last lines it wrote to stderr, for an error message."""
        if returncode is None:
            how = "closed its pipes"
        elif returncode < 0:
            how = f"was killed by {_signal_name(-returncode)}"
        else:
            how = f"exited with status {returncode}"
        said = self._stderr.decode(errors="replace").strip()
        return f"(pid {self.pid}) {how}" + (f"; it said: {said}" if said else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
