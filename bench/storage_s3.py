"""S3 throughput through the storage interface vs raw aioboto3, same object, same server, same run.

One 128 MiB object goes up and comes back through `S3Provider` (multipart upload of 8 MiB parts
reading each part from the file, the whole file hashed for x-amz-meta-sha256; a streamed GET
into the verified atomic file, its sha256 checked against the stored one) and through raw
aioboto3 against the same moto server (its own process on loopback). The raw peer moves the file
the same way, minus the verification: up, aioboto3's own file transfer `upload_file` (a
multipart upload, concurrent parts); down, `get_object` streamed into a file a MiB at a time
(faster here than aioboto3's `download_file`, whose concurrent ranged GETs moto serves slowly:
it copies the whole object for every range). Printed beside them for information: a single
`put_object` of the file read whole into memory (fast on loopback, but bounded by RAM and
5 GiB) and `download_file`.

Fairness: every transfer runs once to warm up (connections, the server's buffers, the page
cache), then `ROUNDS` rounds time ours and raw back to back, who goes first alternating, and
each figure is the median of its rounds (slowest to fastest printed beside it). Each download
writes a new file: the last round's output is deleted before the clock starts, so neither side
is timed freeing 128 MiB of the round before (raw truncating it on open, ours replacing it).

What ours adds is the price of trust: sha256 over every byte both ways, and an fsync before the
downloaded file is renamed into place. The download hashes and writes in threads of their own
while the body arrives; on 2 cores shared with the server (and other work) that CPU still
competes with the transfer, so figures vary with the machine's load.

Headline: the weaker direction, as MB/s of ours vs raw in that direction (ratio ours / raw,
higher is better). It was the round trip until the download was found lagging behind an upload
that hid it; the weaker direction cannot hide either one.
Run: python bench/storage_s3.py [--rounds N] [--mib SIZE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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
ROUNDS = 7
BUCKET = "bench"
KEYS = {"access_key": "bench", "secret_key": "bench"}

Transfer = Callable[[], Awaitable[Any]]


def make_object(path: Path, size: int) -> None:
    with path.open("wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))


async def timed(run: Transfer, output: Path | None = None) -> float:
    """Seconds `run` takes, once its `output` file is deleted."""
    if output is not None:
        await asyncio.to_thread(output.unlink, missing_ok=True)
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def raw_put(client: Any, source: Path, key: str) -> None:
    data = await asyncio.to_thread(source.read_bytes)
    await client.put_object(Bucket=BUCKET, Key=key, Body=data)


async def raw_get(client: Any, key: str, target: Path) -> None:
    answer = await client.get_object(Bucket=BUCKET, Key=key)
    with target.open("wb") as f:
        async for chunk in answer["Body"].iter_chunks(MIB):
            f.write(chunk)


async def pairs(
    ours: Transfer,
    raw: Transfer,
    rounds: int,
    outputs: tuple[Path, Path] | tuple[None, None] = (None, None),
) -> tuple[list[float], list[float]]:
    """Seconds of each, warmed once, then `rounds` times back to back, alternating who goes
    first; each one's output file (ours, raw) is deleted before it runs."""
    await ours()
    await raw()
    ours_s: list[float] = []
    raw_s: list[float] = []
    for n in range(rounds):
        if n % 2:
            raw_s.append(await timed(raw, outputs[1]))
            ours_s.append(await timed(ours, outputs[0]))
        else:
            ours_s.append(await timed(ours, outputs[0]))
            raw_s.append(await timed(raw, outputs[1]))
    return ours_s, raw_s


async def measure(url: str, work: Path, size: int, rounds: int) -> dict[str, list[float]]:
    source, ours_out, raw_out = work / "object.bin", work / "ours.out", work / "raw.out"
    await asyncio.to_thread(make_object, source, size)
    config = S3Config(endpoint=url, region=REGION, addressing_style="path", **KEYS)
    provider = S3Provider(config)
    session = aioboto3.Session(
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        region_name=REGION,
    )
    seconds: dict[str, list[float]] = {}
    async with session.client("s3", endpoint_url=url) as client:
        await client.create_bucket(Bucket=BUCKET)
        ours_at, raw_at = f"s3://{BUCKET}/ours.bin", "raw.bin"
        seconds["ours up"], seconds["raw upload_file"] = await pairs(
            lambda: provider.upload(source, ours_at),
            lambda: client.upload_file(str(source), BUCKET, raw_at),
            rounds,
        )
        seconds["ours down"], seconds["raw get_object"] = await pairs(
            lambda: provider.download(ours_at, ours_out),
            lambda: raw_get(client, raw_at, raw_out),
            rounds,
            (ours_out, raw_out),
        )
        seconds["raw put_object"] = [await timed(lambda: raw_put(client, source, raw_at))]
        seconds["raw download_file"] = [
            await timed(lambda: client.download_file(BUCKET, raw_at, str(raw_out)), raw_out)
        ]
    await provider.close()
    if ours_out.stat().st_size != size or raw_out.stat().st_size != size:
        raise SystemExit("a download came back short: the measurement is void")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds per transfer")
    parser.add_argument("--mib", type=int, default=128, help="the object's size in MiB")
    options = parser.parse_args()
    size: int = options.mib * MIB
    server = MotoServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="nunet-bench-s3-") as work:
            seconds = asyncio.run(measure(server.url, Path(work), size, options.rounds))
    finally:
        server.stop()

    def rate(s: float) -> float:
        return size / MIB / s

    median = {name: rate(statistics.median(s)) for name, s in seconds.items()}
    for name, s in seconds.items():
        spread = f"({rate(max(s)):.0f} to {rate(min(s)):.0f})" if len(s) > 1 else "(once)"
        print(f"  {name:18} {median[name]:8.1f} MB/s  {spread}")
    directions = {
        "upload": (median["ours up"], median["raw upload_file"], "upload_file"),
        "download": (median["ours down"], median["raw get_object"], "get_object"),
    }
    for direction, (ours, raw, _) in directions.items():
        print(f"{direction:9} ours / raw = {ours / raw:.2f}")
    weaker = min(directions, key=lambda d: directions[d][0] / directions[d][1])
    ours, raw, peer = directions[weaker]
    report("storage_s3", ours, "MB/s", f"aioboto3 raw {peer} ({weaker}, the weaker way)", raw)


if __name__ == "__main__":
    main()
