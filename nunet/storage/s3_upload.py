"""Uploads of one file to S3: one PUT for a small file, a multipart upload for a large one.

Either way the file's sha256 is stored with the object as `x-amz-meta-sha256`, for downloads
to verify. A single PUT also sends the body's MD5 (the store refuses a body that arrives
otherwise) and compares the ETag it answers with it. A multipart upload reads each part from
the file as it is sent (botocore adds a CRC32 per part that the store checks), several parts at
once, and is aborted on any failure (cancellation included) so no orphan parts stay behind.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from nunet.storage.provider import Checksum, ChecksumMismatch, StorageError
from nunet.storage.s3_errors import storage_error
from nunet.storage.s3_parts import Part, PartReader, SourceChanged, plan_parts
from nunet.storage.streaming import ProgressMeter, file_checksum

SHA256_METADATA = "sha256"  # sent as the header x-amz-meta-sha256
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_KMS = ("aws:kms", "aws:kms:dsse")


@dataclasses.dataclass(frozen=True)
class Target:
    """Where an upload goes and how messages name it."""

    bucket: str
    key: str
    label: str


@dataclasses.dataclass(frozen=True)
class FileState:
    """What tells a file was changed: its size, modification time and inode."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        status = path.stat()
        return cls(status.st_size, status.st_mtime_ns, status.st_ino)


def plain_md5_etag(answer: dict[str, Any]) -> str | None:
    """The ETag of a single-part object when it is the MD5 of its content (not so for
    multipart objects, nor under KMS or customer-key encryption)."""
    etag = str(answer.get("ETag", "")).strip('"').lower()
    if answer.get("ServerSideEncryption") in _KMS or answer.get("SSECustomerAlgorithm"):
        return None
    return etag if _MD5_ETAG.match(etag) else None


async def put_whole(client: Any, target: Target, source: Path, meter: ProgressMeter) -> Checksum:
    """Upload a small file in one PUT; its sha256."""

    def read() -> tuple[bytes, str, bytes]:
        data = source.read_bytes()
        return data, hashlib.sha256(data).hexdigest(), hashlib.md5(data).digest()

    data, sha256, md5 = await asyncio.to_thread(read)
    meter.total = len(data)
    meter.report(0)
    answer = await client.put_object(
        Bucket=target.bucket,
        Key=target.key,
        Body=data,
        ContentMD5=base64.b64encode(md5).decode(),
        Metadata={SHA256_METADATA: sha256},
    )
    etag = plain_md5_etag(answer)
    if etag is not None and etag != md5.hex():
        await client.delete_object(Bucket=target.bucket, Key=target.key)
        raise ChecksumMismatch(
            f"{target.label}: the store answered ETag {etag} for content whose MD5 is "
            f"{md5.hex()}; the object was removed, try again"
        )
    meter.finish(len(data))
    return Checksum("sha256", sha256)


async def put_in_parts(
    client: Any,
    target: Target,
    source: Path,
    meter: ProgressMeter,
    *,
    part_bytes: int,
    concurrency: int,
) -> Checksum:
    """Upload a large file as a multipart upload of `part_bytes` parts, `concurrency` at a
    time; its sha256. Any failure aborts the upload."""
    before = await asyncio.to_thread(FileState.of, source)
    sha256 = await file_checksum(source)
    parts = plan_parts(before.size, part_bytes)
    fd = await asyncio.to_thread(os.open, source, os.O_RDONLY)
    try:
        created = await client.create_multipart_upload(
            Bucket=target.bucket, Key=target.key, Metadata={SHA256_METADATA: sha256.hex}
        )
        upload_id: str = created["UploadId"]
        try:
            meter.total = before.size
            meter.report(0)
            etags = await _send_parts(client, target, upload_id, fd, parts, meter, concurrency)
            if await asyncio.to_thread(FileState.of, source) != before:
                raise SourceChanged(
                    f"{target.label}: {source} changed while it was being uploaded; "
                    "upload it again once it is complete"
                )
            await client.complete_multipart_upload(
                Bucket=target.bucket,
                Key=target.key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
                },
            )
        except BaseException as error:
            aborted = await asyncio.shield(_abort(client, target, upload_id))
            if isinstance(error, Exception):
                raise _with_abort_note(
                    storage_error(error, target.label, target.bucket, target.key),
                    aborted,
                    upload_id,
                ) from error
            raise
    finally:
        os.close(fd)
    meter.finish(before.size)
    return sha256


async def _send_parts(
    client: Any,
    target: Target,
    upload_id: str,
    fd: int,
    parts: list[Part],
    meter: ProgressMeter,
    concurrency: int,
) -> dict[int, str]:
    queue = iter(parts)  # shared by the senders: each takes the next part not yet taken
    etags: dict[int, str] = {}
    sent = 0

    async def sender() -> None:
        nonlocal sent
        for part in queue:
            with PartReader(fd, part, target.label) as body:
                answer = await client.upload_part(
                    Bucket=target.bucket,
                    Key=target.key,
                    UploadId=upload_id,
                    PartNumber=part.number,
                    Body=body,
                    ContentLength=part.length,
                )
            etags[part.number] = str(answer["ETag"])
            sent += part.length
            meter.report(sent)

    senders = [asyncio.create_task(sender()) for _ in range(min(concurrency, len(parts)))]
    try:
        await asyncio.gather(*senders)
    except BaseException:
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        raise
    return etags


async def _abort(client: Any, target: Target, upload_id: str) -> bool:
    """Abort the upload so the store drops its parts; whether the store confirmed it."""
    try:
        await client.abort_multipart_upload(
            Bucket=target.bucket, Key=target.key, UploadId=upload_id
        )
    except Exception:
        return False
    return True


def _with_abort_note(error: StorageError, aborted: bool, upload_id: str) -> StorageError:
    if aborted:
        return error
    noted = type(error)(
        f"{error}; the incomplete upload {upload_id} could not be aborted: deleting the "
        "location, or a bucket lifecycle rule AbortIncompleteMultipartUpload, removes its parts"
    )
    noted.retryable = error.retryable
    return noted
