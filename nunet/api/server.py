"""Serves the API on a loopback TCP port and the node's Unix socket; records where (and the
TCP token) in <home>/api.json."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a node: the node, not uvicorn, owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """Listens on `host:port` (0 picks a free port) and, if given, a Unix socket."""

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str,
        port: int,
        socket_path: Path | None,
        info_path: Path,
        token: str | None = None,
    ) -> None:
        self._app = app
        self._token = token
        self._host, self._port = host, port
        self._socket_path = socket_path
        self._info_path = info_path
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> str:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((self._host, self._port))
        sockets = [tcp]
        if self._socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.bind(str(self._socket_path))
            os.chmod(self._socket_path, 0o600)
            sockets.append(unix)
        port = tcp.getsockname()[1]
        host = f"[{self._host}]" if family == socket.AF_INET6 else self._host
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=sockets), name="api-server")
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.01)
        self._write_info()
        return self.url

    async def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._info_path.unlink()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()

    def _write_info(self) -> None:
        info = {
            "url": self.url,
            "socket": str(self._socket_path) if self._socket_path else None,
            "token": self._token,
            "pid": os.getpid(),
        }
        # The file holds the API token: only the node's owner may read it.
        tmp = self._info_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh)
        os.replace(tmp, self._info_path)
