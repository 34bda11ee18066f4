"""One node of a devstack as a child process: started, watched until ready, stopped cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from nunet.api import ApiError, find_api
from nunet.childproc import die_with_parent
from nunet.devstack.plan import NodePlan
from nunet.errors import NunetError
from nunet.mesh import MeshAccess, MeshAccessError, read_mesh_access
from nunet.node import NodeLayout

STOP_GRACE_SECONDS = 10.0


class StackError(NunetError):
    """A devstack node failed to start or to stop; the message carries its log's last lines."""


class NodeProcess:
    """`python -m nunet --home H run`, its output in `<home>/node.log`."""

    def __init__(self, plan: NodePlan, passphrase_file: Path) -> None:
        self.plan = plan
        self.layout = NodeLayout(plan.home)
        self._passphrase_file = passphrase_file
        self._process: asyncio.subprocess.Process | None = None

    @property
    def log_file(self) -> Path:
        return self.plan.home / "node.log"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        for stale in (self.layout.api_info, self.layout.mesh_access):
            stale.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "nunet",
                "--home",
                str(self.plan.home),
                "--passphrase-file",
                str(self._passphrase_file),
                "run",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the devstack, which stops nodes in order
                preexec_fn=die_with_parent(),
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    async def wait_ready(self, timeout: float) -> tuple[dict[str, Any], MeshAccess]:
        """The node's API health answer and its mesh access, once both are there."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                access = read_mesh_access(self.layout.mesh_access)
                health = await asyncio.to_thread(self._health)
                return health, access
            except (ApiError, MeshAccessError):
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{self.plan.name} was not ready within {timeout:g}s\n{self.log_tail()}"
                    ) from None
            await asyncio.sleep(0.05)

    def _health(self) -> dict[str, Any]:
        with find_api(self.plan.home) as client:
            return client.health()

    def api_url(self) -> str:
        info = json.loads(self.layout.api_info.read_text())
        return str(info["url"])

    def _check_alive(self) -> None:
        if self._process is not None and self._process.returncode is not None:
            raise StackError(
                f"{self.plan.name} exited with status {self._process.returncode}\n{self.log_tail()}"
            )

    async def wait(self) -> int:
        """Until the process ends; its exit status."""
        if self._process is None:
            raise StackError(f"{self.plan.name} was never started")
        return await self._process.wait()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; the exit status (None if never started)."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return process.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(f"  {self.plan.name}| {line}" for line in text.splitlines()[-lines:])
