"""S3 throughput through the storage interface vs raw aioboto3, same object, same server, same run.

One 128 MiB object goes up and comes back through `S3Provider` (multipart upload of 8 MiB parts
reading each part from the file, the whole file hashed for x-amz-meta-sha256; a streamed GET
into the verified atomic file, sha256 checked) and through raw aioboto3 against the same moto
server (its own process on loopback). The raw peer moves the file the same way, minus the
verification: up, aioboto3's own file transfer `upload_file` (a multipart upload, concurrent
parts); down, `get_object` streamed into a file (faster here than aioboto3's `download_file`,
whose concurrent ranged GETs moto serves slowly). Printed beside them for information: a single
`put_object` of the file read whole into memory (fast on loopback, but bounded by RAM and 5 GiB)
and `download_file`.

What ours adds is the price of trust: sha256 over every byte both ways, and an fsync before the
downloaded file is renamed into place. On 2 cores with the server on one of them, that work
competes with the transfer; against a remote store the network hides it.

Headline: MB/s of the round trip (upload then download) — ratio ours / raw, higher is better.
Run: python bench/storage_s3.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioboto3  # type: ignore[import-untyped]
from _common import report

from nunet.storage.s3 import S3Provider
from nunet.storage.s3_config import S3Config
from tests.storage.s3_server import REGION, MotoServer

MIB = 1 << 20
SIZE = 128 * MIB
ROUNDS = 3  # best of
BUCKET = "bench"
KEYS = {"access_key": "bench", "secret_key": "bench"}


def make_object(path: Path) -> None:
    with path.open("wb") as f:
        for _ in range(SIZE // MIB):
            f.write(os.urandom(MIB))


async def best_seconds(run: Callable[[], Awaitable[None]]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await run()
        best = min(best, time.perf_counter() - start)
    return best


async def raw_put(client: Any, source: Path, key: str) -> None:
    data = await asyncio.to_thread(source.read_bytes)
    await client.put_object(Bucket=BUCKET, Key=key, Body=data)


async def raw_get(client: Any, key: str, target: Path) -> None:
    answer = await client.get_object(Bucket=BUCKET, Key=key)
    with target.open("wb") as f:
        async for chunk in answer["Body"].iter_chunks(MIB):
            f.write(chunk)


async def measure(url: str, work: Path) -> dict[str, float]:
    source, ours_out, raw_out = work / "object.bin", work / "ours.out", work / "raw.out"
    await asyncio.to_thread(make_object, source)
    config = S3Config(endpoint=url, region=REGION, addressing_style="path", **KEYS)
    provider = S3Provider(config)
    session = aioboto3.Session(
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        region_name=REGION,
    )
    seconds: dict[str, float] = {}
    async with session.client("s3", endpoint_url=url) as client:
        await client.create_bucket(Bucket=BUCKET)
        ours_at, raw_at = f"s3://{BUCKET}/ours.bin", "raw.bin"
        seconds["ours up"] = await best_seconds(lambda: provider.upload(source, ours_at))
        seconds["raw upload_file"] = await best_seconds(
            lambda: client.upload_file(str(source), BUCKET, raw_at)
        )
        seconds["raw put_object"] = await best_seconds(lambda: raw_put(client, source, raw_at))
        seconds["ours down"] = await best_seconds(lambda: provider.download(ours_at, ours_out))
        seconds["raw download_file"] = await best_seconds(
            lambda: client.download_file(BUCKET, raw_at, str(raw_out))
        )
        seconds["raw get_object"] = await best_seconds(lambda: raw_get(client, raw_at, raw_out))
    await provider.close()
    if ours_out.stat().st_size != SIZE or raw_out.stat().st_size != SIZE:
        raise SystemExit("a download came back short: the measurement is void")
    return seconds


def main() -> None:
    server = MotoServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="nunet-bench-s3-") as work:
            seconds = asyncio.run(measure(server.url, Path(work)))
    finally:
        server.stop()

    def rate(s: float) -> float:
        return SIZE / MIB / s

    for name, s in seconds.items():
        print(f"  {name:18} {rate(s):8.1f} MB/s")
    raw_up, raw_down = seconds["raw upload_file"], seconds["raw get_object"]
    print(f"upload:   ours / raw = {raw_up / seconds['ours up']:.2f}")
    print(f"download: ours / raw = {raw_down / seconds['ours down']:.2f}")
    ours_trip = 2 * SIZE / MIB / (seconds["ours up"] + seconds["ours down"])
    raw_trip = 2 * SIZE / MIB / (raw_up + raw_down)
    report("storage_s3", ours_trip, "MB/s", "aioboto3 raw upload_file + get_object", raw_trip)


if __name__ == "__main__":
    main()
