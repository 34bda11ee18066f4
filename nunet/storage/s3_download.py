"""The download of one S3 object into a verified atomic file, resumed after a cut.

The body streams into an `AtomicFile` as it arrives (the file hashes and writes it in threads
of its own while the next bytes come in). A connection cut mid-body is resumed with a ranged GET
from the first missing byte, pinned to the object's ETag (`If-Match`) so a replaced object is
never stitched onto the old one, after a growing pause, a bounded number of times. What arrived
is verified before the file is renamed into place: against the caller's checksum or else the
sha256 stored with the object (and that one too when the caller's is an MD5), and against the
ETag when the ETag is the MD5 of a single-part object.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from nunet.storage.provider import BadLocation, Checksum, ObjectInfo, ProgressCallback
from nunet.storage.s3_errors import is_cut
from nunet.storage.s3_upload import SHA256_METADATA, plain_md5_etag
from nunet.storage.streaming import CHUNK_BYTES, WINDOW_BYTES, AtomicFile, Claim


@dataclasses.dataclass(frozen=True)
class Resumption:
    """How often a cut download is resumed (`attempts` in all, the first included) and the
    pause before the n-th resumption (`backoff * 2**(n-1)` seconds)."""

    attempts: int = 4
    backoff: float = 0.25

    def pause(self, failures: int) -> float:
        return float(self.backoff * 2 ** (failures - 1))


def stored_sha256(answer: dict[str, Any]) -> Checksum | None:
    """The sha256 kept in the object's metadata (x-amz-meta-sha256), when it is one."""
    text = answer.get("Metadata", {}).get(SHA256_METADATA)
    if not text:
        return None
    try:
        checksum = Checksum.parse(f"sha256:{text}")
    except BadLocation:
        return None
    return checksum if len(checksum.hex) == 64 else None


def claims_of(answer: dict[str, Any], expected: Checksum | None) -> list[Claim]:
    """What the object's own headers say its content is, to check besides `expected`: the MD5
    a plain ETag states, and the stored sha256 when `expected` is in another algorithm (when
    there is no `expected`, the stored sha256 is the one expected)."""
    claims: list[Claim] = []
    etag_md5 = plain_md5_etag(answer)
    if etag_md5 is not None:
        claims.append(Claim(Checksum("md5", etag_md5), "the ETag"))
    stored = stored_sha256(answer)
    if stored is not None and expected is not None and expected.algorithm != "sha256":
        claims.append(Claim(stored, f"the object's stored x-amz-meta-{SHA256_METADATA}"))
    return claims


async def fetch_object(
    client: Any,
    bucket: str,
    key: str,
    label: str,
    target: Path,
    *,
    checksum: Checksum | None,
    max_bytes: int | None,
    progress: ProgressCallback | None,
    resumption: Resumption,
) -> ObjectInfo:
    """Download `bucket`/`key` (named `label`) to `target`; what was written."""
    answer: dict[str, Any] | None = await client.get_object(Bucket=bucket, Key=key)
    assert answer is not None
    size = int(answer["ContentLength"])
    etag = str(answer["ETag"])
    modified = answer["LastModified"].timestamp() if "LastModified" in answer else 0.0
    failures = 0
    try:
        async with AtomicFile(
            target,
            location=label,
            checksum=checksum or stored_sha256(answer),
            claims=claims_of(answer, checksum),
            max_bytes=max_bytes,
            progress=progress,
            window_bytes=WINDOW_BYTES,
        ) as out:
            out.expect(size)
            while out.done < size or answer is not None:
                try:
                    if answer is None:
                        answer = await client.get_object(
                            Bucket=bucket, Key=key, Range=f"bytes={out.done}-", IfMatch=etag
                        )
                        if "ContentRange" not in answer:  # the store sent it all again
                            await out.restart()
                    await _drain(answer["Body"], out)
                except Exception as error:
                    failures += 1
                    if not is_cut(error) or failures >= resumption.attempts:
                        raise
                finally:
                    if answer is not None:
                        answer["Body"].close()
                    answer = None
                if out.done < size:
                    await asyncio.sleep(resumption.pause(failures))
            info = await out.commit()
    finally:
        if answer is not None:
            answer["Body"].close()
    return dataclasses.replace(info, modified=modified)


async def _drain(body: Any, out: AtomicFile) -> None:
    """Hand the body to `out` as it arrives (each read gives what has come, up to a MiB); `out`
    hashes and writes it in its own threads while the next bytes are received."""
    while piece := await body.read(CHUNK_BYTES):
        await out.write(piece)
