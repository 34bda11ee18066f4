"""Docker executor overhead: wall time of a short job (`sh -c 'echo hi'`) through DockerExecutor
(prepare, start, wait, read its log, cleanup) vs `docker run --rm --network none` of the same image
and command, interleaved in the same run.

Target: at most 1.2x the plain CLI's time (ratio peer/ours >= 0.83).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.executor.images
from _common import report

from nunet.executor import ExecutionSpec
from nunet.executor.docker import DockerExecutor
from tests.executor.images import ensure_busybox_image

JOBS = 20
COMMAND = ("sh", "-c", "echo hi")


async def ours(executor: DockerExecutor, image: str, i: int) -> float:
    spec = ExecutionSpec(id=f"bench-{i}-{time.monotonic_ns()}", image=image, command=COMMAND)
    began = time.perf_counter()
    await executor.prepare(spec)
    await executor.start(spec.id)
    await executor.wait(spec.id)
    lines = [line.text async for line in executor.logs(spec.id)]
    await executor.cleanup(spec.id)
    took = time.perf_counter() - began
    assert lines == ["hi"], lines
    return took


def peer(image: str) -> float:
    began = time.perf_counter()
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, *COMMAND],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    took = time.perf_counter() - began
    assert out == "hi\n", out
    return took


async def main() -> None:
    image = ensure_busybox_image()
    with tempfile.TemporaryDirectory() as logs:
        executor = DockerExecutor(lambda event: None, node_id="bench", log_dir=Path(logs))
        try:
            await ours(executor, image, -1)  # warm: connection pool, image lookups
            peer(image)
            mine, theirs = [], []
            for i in range(JOBS):
                mine.append(await ours(executor, image, i))
                theirs.append(await asyncio.to_thread(peer, image))
        finally:
            await executor.close()
    ours_ms, peer_ms = statistics.median(mine) * 1e3, statistics.median(theirs) * 1e3
    print(
        f"{JOBS} short jobs, median wall time: ours {ours_ms:.1f} ms, docker run --rm {peer_ms:.1f} ms"
    )
    report(
        "executor_docker",
        ours_ms,
        "ms/job",
        "docker run --rm",
        peer_ms,
        higher_is_better=False,
    )


if __name__ == "__main__":
    asyncio.run(main())
