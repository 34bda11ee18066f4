"""A loopback TCP relay between a storage client and its server that can cut transfers mid-way.

A provider under test connects to the relay's address instead of the server's; the relay copies
bytes both ways and counts them. `cut_next(after)` aborts (TCP reset) the first connection that
moves more than `after` bytes in either direction, once; `cut_all(after)` does so to every
connection, and once one was cut refuses every new one at once (the store went away) until
`heal()`. The contract uses it to prove that a cut transfer raises `TransferInterrupted` with
nothing partial left behind, and that a provider that resumes does not start again from zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

CHUNK = 64 * 1024


@dataclasses.dataclass
class RelayCounters:
    """What the relay has moved: bytes from the server (downstream) and to it (upstream)."""

    from_server: int = 0
    to_server: int = 0
    connections: int = 0
    cuts: int = 0


class Relay:
    """Forwards `127.0.0.1:<port>` to `upstream`; start with `await relay.start()`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.counters = RelayCounters()
        self._server: asyncio.Server | None = None
        self._cut_after: int | None = None
        self._cut_once = True
        self._down = False  # after a cut_all cut: refuse every connection
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.cut_happened = asyncio.Event()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the relay is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    def cut_next(self, after_bytes: int) -> None:
        """Cut the first connection that moves more than `after_bytes` one way; once."""
        self._cut_after, self._cut_once, self._down = after_bytes, True, False
        self.cut_happened.clear()

    def cut_all(self, after_bytes: int) -> None:
        """Cut every connection past `after_bytes`; after the first cut, refuse all."""
        self._cut_after, self._cut_once, self._down = after_bytes, False, False
        self.cut_happened.clear()

    def heal(self) -> None:
        """Relay everything again, cutting nothing."""
        self._cut_after, self._down = None, False

    def reset_counters(self) -> None:
        self.counters = RelayCounters()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # its handler then ends on its own
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in stuck:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.counters.connections += 1
        if self._down:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.update((client_w, server_w))
        moved = [0, 0]  # this connection's bytes: to the server, from the server
        cut = asyncio.Event()

        async def pump(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: int
        ) -> None:
            try:
                while data := await reader.read(CHUNK):
                    limit = self._cut_after
                    if limit is not None and moved[way] + len(data) > limit:
                        keep = max(0, limit - moved[way])
                        if keep:
                            self._count(way, keep)
                            moved[way] += keep
                            writer.write(data[:keep])
                            await writer.drain()
                        self._cut()
                        cut.set()
                        return
                    self._count(way, len(data))
                    moved[way] += len(data)
                    writer.write(data)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError):
                cut.set()

        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up = asyncio.create_task(pump(client_r, server_w, 0))
            down = asyncio.create_task(pump(server_r, client_w, 1))
            ended = asyncio.create_task(cut.wait())
            both = asyncio.gather(up, down)
            await asyncio.wait((both, ended), return_when=asyncio.FIRST_COMPLETED)
            if cut.is_set():
                client_w.transport.abort()
                server_w.transport.abort()
            for pending in (up, down, ended):
                pending.cancel()
            await asyncio.gather(up, down, ended, return_exceptions=True)
            both.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await both
        finally:
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.close()
            self._tasks.discard(task)

    def _count(self, way: int, n: int) -> None:
        if way == 0:
            self.counters.to_server += n
        else:
            self.counters.from_server += n

    def _cut(self) -> None:
        self.counters.cuts += 1
        self.cut_happened.set()
        if self._cut_once:
            self._cut_after = None
        else:
            self._down = True
