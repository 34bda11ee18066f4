"""Starting benchmark worker processes and reading their one-line answers."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from pathlib import Path

from nunet.benchmark.errors import BenchmarkPartFailed

WORKER = Path(__file__).with_name("_worker.py")
# How long past its own deadline a worker may take (start-up, a last operation) before it is
# killed: the backstop, not the normal way a worker stops.
GRACE = 2.0


async def run_worker(kind: str, seconds: float, *args: str) -> float:
    """Work per second measured by one worker process (see `_worker.py` for the units); the
    worker stops `seconds` from now, its start-up included."""
    deadline = time.monotonic() + seconds
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-S",
        str(WORKER),
        kind,
        repr(deadline),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(), deadline - time.monotonic() + GRACE
        )
    except TimeoutError:
        raise BenchmarkPartFailed(
            f"the {kind} worker was still running {GRACE:g} s past its deadline and was stopped"
        ) from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        said = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise BenchmarkPartFailed(
            f"the {kind} worker exited with status {process.returncode}: {said[0]}"
        )
    try:
        answer = json.loads(stdout)
        work, elapsed = float(answer["work"]), float(answer["seconds"])
    except (ValueError, KeyError, TypeError):
        raise BenchmarkPartFailed(f"the {kind} worker answered {stdout[:200]!r}") from None
    if not (math.isfinite(work) and elapsed > 0):
        raise BenchmarkPartFailed(f"the {kind} worker measured {work} in {elapsed} s")
    return work / elapsed


async def run_workers(kind: str, seconds: float, count: int, *args: str) -> float:
    """The summed rate of `count` workers running side by side."""
    results = await asyncio.gather(
        *(run_worker(kind, seconds, *args) for _ in range(count)), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return sum(r for r in results if isinstance(r, float))
