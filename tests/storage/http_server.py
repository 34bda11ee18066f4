"""A small real HTTP/1.1 file server on 127.0.0.1 for the URL provider's tests.

Serves the files under `root` with GET and HEAD, keep-alive, `Content-Length`, an `ETag`, and
(when `ranges` is on) `Accept-Ranges: bytes` with `Range: bytes=a-` / `a-b` answered by 206 and
`If-Range` honoured. Files are streamed from disk in chunks, so the server holds little memory.
Every request is recorded (method, path, Range header) so tests can check what was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None


class FileServer:
    def __init__(self, root: Path, *, ranges: bool = True) -> None:
        self.root = root
        self.ranges = ranges
        self.requests: list[Request] = []
        self.status_override: dict[str, int] = {}  # path -> status to answer instead
        self.on_request: Callable[[Request], Awaitable[None]] | None = None  # before answering
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> FileServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._answer_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        request = Request(method, path, headers.get("range"))
        self.requests.append(request)
        if self.on_request is not None:
            await self.on_request(request)
        file = (self.root / path.lstrip("/")).resolve()
        if path in self.status_override:
            await self._head(writer, self.status_override[path], {"Content-Length": "0"})
            return True
        if not file.is_relative_to(self.root.resolve()) or not file.is_file():
            await self._head(writer, 404, {"Content-Length": "0"})
            return True
        size = file.stat().st_size
        stat = file.stat()
        etag = '"' + hashlib.sha1(f"{stat.st_mtime_ns}-{size}".encode()).hexdigest() + '"'
        start, end, status = 0, size - 1, 200
        wanted = headers.get("range")
        if_range = headers.get("if-range")
        if self.ranges and wanted and (if_range is None or if_range == etag):
            match = _RANGE.match(wanted)
            if match is None or int(match.group(1)) >= max(size, 1):
                await self._head(
                    writer, 416, {"Content-Range": f"bytes */{size}", "Content-Length": "0"}
                )
                return True
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            status = 206
        extra = {"Content-Length": str(max(0, end - start + 1)), "ETag": etag}
        if self.ranges:
            extra["Accept-Ranges"] = "bytes"
        if status == 206:
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        await self._head(writer, status, extra)
        if method == "GET":
            with file.open("rb") as f:
                f.seek(start)
                left = end - start + 1
                while left > 0:
                    chunk = await asyncio.to_thread(f.read, min(CHUNK, left))
                    if not chunk:
                        break
                    left -= len(chunk)
                    writer.write(chunk)
                    await writer.drain()
        return True

    async def _head(
        self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str]
    ) -> None:
        reason = {200: "OK", 206: "Partial Content", 404: "Not Found", 416: "Range Not Satisfiable"}
        lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
