"""Swarm store throughput: a 64 MiB object uploaded and downloaded through JetStreamProvider,
beside nats-py's own object store (`put` from the file, `get` into a file, chunks of the same size) on the same nats-server
(JetStream, file storage), same object, same run; best of 3 each.

Ours also verifies SHA-256 on the way in and out, writes through a temporary file that is
fsynced and renamed into place, and reports progress. Reported: MiB/s over one upload plus one
download; the upload and download figures are printed on their own. Ratio = ours / peer.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nats
from _common import report
from nats.aio.client import Client as NatsClient
from nats.js import api

from nunet.mesh.binary import locate_nats_server
from nunet.storage.jetstream import JetStreamProvider

MIB = 1 << 20
SIZE = 64 * MIB
REPEATS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_object(path: Path) -> None:
    block = bytearray(os.urandom(MIB))
    with path.open("wb") as f:
        for i in range(SIZE // MIB):
            block[:8] = i.to_bytes(8, "big")  # no two MiB alike
            f.write(block)


async def quiet(exc: Exception) -> None:
    """Connection refused while the server starts: expected, not worth a traceback."""


async def connect(url: str) -> NatsClient:
    deadline = time.monotonic() + 10
    while True:
        try:
            return await nats.connect(
                url, connect_timeout=1, max_reconnect_attempts=0, error_cb=quiet
            )
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def best_seconds(action: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        await action()
        best = min(best, time.perf_counter() - start)
    return best


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "object.bin"
        write_object(source)
        port = free_port()
        command = [str(locate_nats_server()), "-a", "127.0.0.1", "-p", str(port)]
        server = subprocess.Popen(  # noqa: ASYNC220 - a fork, not a wait
            [*command, "-js", "-sd", str(root / "jetstream")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"nats://127.0.0.1:{port}"
            raw = await connect(url)
            provider = await JetStreamProvider.connect(url)
            peer_store = await raw.jetstream().create_object_store("peer")
            # The peer cuts the object into chunks of the same size as ours.
            chunk = provider.config.chunk_bytes
            same_chunks = api.ObjectMeta(options=api.ObjectMetaOptions(max_chunk_size=chunk))

            async def ours_up() -> None:
                await provider.upload(source, "nunet://ours/object.bin")

            async def ours_down() -> None:
                await provider.download("nunet://ours/object.bin", root / "ours.out")

            async def peer_up() -> None:
                with source.open("rb") as f:
                    await peer_store.put("object.bin", f, meta=same_chunks)

            async def peer_down() -> None:
                with (root / "peer.out").open("wb") as f:
                    await peer_store.get("object.bin", writeinto=f)

            # Interleaved, so neither side gets a warmer cache or a fuller disk.
            up = await best_seconds(ours_up)
            peer_up_s = await best_seconds(peer_up)
            down = await best_seconds(ours_down)
            peer_down_s = await best_seconds(peer_down)
            assert (root / "ours.out").stat().st_size == SIZE
            assert (root / "peer.out").stat().st_size == SIZE
            await provider.close()
            await raw.close()
        finally:
            server.terminate()
            server.wait(10)
    mib = SIZE / MIB
    print(f"upload:   ours {mib / up:,.1f} MiB/s  vs  nats-py object store {mib / peer_up_s:,.1f}")
    print(
        f"download: ours {mib / down:,.1f} MiB/s  vs  nats-py object store {mib / peer_down_s:,.1f}"
    )
    report(
        "storage_jetstream",
        2 * mib / (up + down),
        "MiB/s",
        "nats-py object store",
        2 * mib / (peer_up_s + peer_down_s),
    )


if __name__ == "__main__":
    asyncio.run(main())
