"""Running a vendor tool (nvidia-smi, amd-smi, ...) off the event loop, bounded in time."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence

from nunet.hardware.errors import ToolFailed, ToolMissing

TOOL_TIMEOUT = 15.0  # seconds; nvidia-smi can take several on a machine with many GPUs


async def run_tool(argv: Sequence[str], *, timeout: float = TOOL_TIMEOUT) -> str:
    """The tool's standard output; ToolMissing if it is not on PATH, ToolFailed if it fails.

    A tool still running at `timeout` (or when the caller is cancelled) is killed.
    """
    executable = shutil.which(argv[0])
    if executable is None:
        raise ToolMissing(f"{argv[0]} is not on PATH")
    process = await asyncio.create_subprocess_exec(
        executable,
        *argv[1:],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        raise ToolFailed(f"{argv[0]} did not answer within {timeout:g} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        said = _last_line(stderr) or _last_line(stdout) or "no message"
        raise ToolFailed(f"{' '.join(argv)} exited with status {process.returncode}: {said}")
    return stdout.decode("utf-8", "replace")


def _last_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")[:300]
