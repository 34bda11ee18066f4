"""Log streaming throughput: lines/s from a chatty job (`seq 1 1000000`) read through
DockerExecutor.logs(follow=True) from its start, vs `docker logs -f` of the same job in a
json-file-logged container piped to /dev/null, in the same run.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.executor.images
from _common import report

from nunet.executor import ExecutionSpec, Limits
from nunet.executor.docker import DockerExecutor
from tests.executor.images import ensure_busybox_image

LINES = 1_000_000
COMMAND = ("seq", "1", str(LINES))


async def ours(image: str) -> float:
    with tempfile.TemporaryDirectory() as logs:
        executor = DockerExecutor(lambda event: None, node_id="bench-logs", log_dir=Path(logs))
        spec = ExecutionSpec(
            id=f"bench-logs-{time.monotonic_ns()}",
            image=image,
            command=COMMAND,
            limits=Limits(log_bytes=64 << 20),
        )
        try:
            await executor.prepare(spec)
            began = time.perf_counter()
            await executor.start(spec.id)
            count = 0
            async for _line in executor.logs(spec.id, follow=True):
                count += 1
            took = time.perf_counter() - began
            await executor.cleanup(spec.id)
        finally:
            await executor.close()
    assert count == LINES, count
    return LINES / took


def peer(image: str) -> float:
    began = time.perf_counter()
    container = subprocess.run(
        ["docker", "run", "-d", "--network", "none", "--log-driver", "json-file", image, *COMMAND],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        followed = subprocess.run(
            ["docker", "logs", "-f", container], stdout=subprocess.PIPE, check=True
        ).stdout
        took = time.perf_counter() - began
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    assert followed.count(b"\n") == LINES
    return LINES / took


def main() -> None:
    image = ensure_busybox_image()
    mine = max(asyncio.run(ours(image)) for _ in range(2))
    theirs = max(peer(image) for _ in range(2))
    report("log_streaming", mine, "lines/s", "docker logs -f", theirs)


if __name__ == "__main__":
    main()
