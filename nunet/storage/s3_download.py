"""The download of one S3 object into a verified atomic file, resumed after a cut.

The body streams into an `AtomicFile` a MiB at a time. A connection cut mid-body is resumed
with a ranged GET from the first missing byte, pinned to the object's ETag (`If-Match`) so a
replaced object is never stitched onto the old one, after a growing pause, a bounded number of
times. What arrived is verified before the file is renamed into place: against the caller's
checksum or else the sha256 stored with the object, and against the ETag when the ETag is the
MD5 of a single-part object.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from nunet.storage.provider import (
    BadLocation,
    Checksum,
    ChecksumMismatch,
    ObjectInfo,
    ProgressCallback,
)
from nunet.storage.s3_errors import is_cut
from nunet.storage.s3_upload import SHA256_METADATA, plain_md5_etag
from nunet.storage.streaming import CHUNK_BYTES, AtomicFile


@dataclasses.dataclass(frozen=True)
class Resumption:
    """How often a cut download is resumed (`attempts` in all, the first included) and the
    pause before the n-th resumption (`backoff * 2**(n-1)` seconds)."""

    attempts: int = 4
    backoff: float = 0.25

    def pause(self, failures: int) -> float:
        return float(self.backoff * 2 ** (failures - 1))


class CrossChecks:
    """The digests an `AtomicFile` does not keep: the MD5 a plain ETag states, and the stored
    sha256 when the caller expects a checksum in another algorithm."""

    def __init__(
        self, etag_md5: str | None, stored: Checksum | None, expected: Checksum | None
    ) -> None:
        self.etag_md5 = etag_md5
        self.stored = stored if expected is not None and expected.algorithm != "sha256" else None
        self.restart()

    def restart(self) -> None:
        self._md5 = hashlib.md5() if self.etag_md5 is not None else None
        self._sha256 = hashlib.sha256() if self.stored is not None else None

    @property
    def needed(self) -> bool:
        return self._md5 is not None or self._sha256 is not None

    def update(self, chunk: bytes) -> None:
        if self._md5 is not None:
            self._md5.update(chunk)
        if self._sha256 is not None:
            self._sha256.update(chunk)

    def verify(self, label: str) -> None:
        if self._sha256 is not None and self.stored is not None:
            actual = Checksum("sha256", self._sha256.hexdigest())
            if actual != self.stored:
                raise ChecksumMismatch(
                    f"{label}: the object's stored {self.stored} does not match what arrived "
                    f"({actual}); it changed in the store or on the way"
                )
        if self._md5 is not None and self._md5.hexdigest() != self.etag_md5:
            raise ChecksumMismatch(
                f"{label}: the ETag says md5:{self.etag_md5}, what arrived is "
                f"md5:{self._md5.hexdigest()}; it changed in the store or on the way"
            )


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
    stored = stored_sha256(answer)
    checks = CrossChecks(plain_md5_etag(answer), stored, checksum)
    failures = 0
    try:
        async with AtomicFile(
            target,
            location=label,
            checksum=checksum or stored,
            max_bytes=max_bytes,
            progress=progress,
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
                            checks.restart()
                    await _drain(answer["Body"], out, checks)
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
            checks.verify(label)
            info = await out.commit()
    finally:
        if answer is not None:
            answer["Body"].close()
    return dataclasses.replace(info, modified=modified)


async def _drain(body: Any, out: AtomicFile, checks: CrossChecks) -> None:
    """Write the body to `out` a MiB at a time (aiohttp hands it over in smaller pieces),
    receiving the next MiB while the last one is hashed and written in a worker thread."""
    pieces: list[bytes] = []
    held = 0
    writing: asyncio.Future[Any] | None = None
    try:
        while True:
            piece: bytes = await body.read(CHUNK_BYTES - held)
            if piece:
                pieces.append(piece)
                held += len(piece)
            if held >= CHUNK_BYTES or (not piece and held):
                chunk = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                pieces.clear()
                held = 0
                if writing is not None:
                    await writing
                writing = _write(out, checks, chunk)
            if not piece:
                break
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None:  # a cut while the last MiB was being written: let it land
            await asyncio.gather(writing, return_exceptions=True)


def _write(out: AtomicFile, checks: CrossChecks, chunk: bytes) -> asyncio.Future[Any]:
    if checks.needed:
        return asyncio.gather(out.write(chunk), asyncio.to_thread(checks.update, chunk))
    return asyncio.ensure_future(out.write(chunk))
