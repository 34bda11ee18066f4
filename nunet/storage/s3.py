"""The S3-compatible provider: `s3://bucket/key` on AWS S3, MinIO, Ceph, Garage or any store
that speaks the S3 protocol, through `aioboto3`.

Downloads stream into a verified atomic file and resume after a cut (`s3_download`); uploads go
in one PUT up to `multipart_threshold` bytes and as a multipart upload above it (`s3_upload`),
with the sha256 stored as `x-amz-meta-sha256`. Prefixes (`s3://bucket/dir/`) move whole
directories. Failures are `StorageError`s naming the location (`s3_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nunet.storage.locations import Location, parse_for
from nunet.storage.paths import check_upload_size, files_to_upload, safe_join
from nunet.storage.provider import (
    BadLocation,
    Checksum,
    NotFound,
    ObjectInfo,
    ProgressCallback,
    StorageError,
    StorageProvider,
    TooLarge,
    Transferred,
)
from nunet.storage.s3_config import S3Config
from nunet.storage.s3_download import Resumption, fetch_object, stored_sha256
from nunet.storage.s3_errors import error_code, storage_error
from nunet.storage.s3_parts import MAX_OBJECT_BYTES, PART_BYTES
from nunet.storage.s3_upload import Target, put_in_parts, put_whole
from nunet.storage.streaming import ProgressMeter

Item = TypeVar("Item")
Result = TypeVar("Result")

SERVED_BY = "the S3 provider"
DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys


class S3Provider(StorageProvider):
    """Serves `s3://` locations with one client, opened on first use and kept until `close()`.

    `part_bytes` is the multipart part size and `multipart_threshold` the size above which an
    upload goes in parts; `concurrency` parts (or small objects of a directory) move at once;
    `resumption` says how often a cut download is resumed, and `request_attempts` how often
    botocore tries each request (throttling, a refused connection) before giving up."""

    schemes = ("s3",)
    writable = True

    def __init__(
        self,
        config: S3Config | None = None,
        *,
        part_bytes: int = PART_BYTES,
        multipart_threshold: int = PART_BYTES,
        concurrency: int = 4,
        resumption: Resumption | None = None,
        request_attempts: int = 3,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency is at least 1, not {concurrency}")
        self.config = config or S3Config()
        self.part_bytes = part_bytes
        self.multipart_threshold = multipart_threshold
        self.concurrency = concurrency
        self.resumption = resumption or Resumption()
        self.request_attempts = request_attempts
        self._client: Any = None
        self._exits: contextlib.AsyncExitStack | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    # --- the client ---

    async def _s3(self) -> Any:
        async with self._opening:
            if self._closed:
                raise StorageError("the S3 provider is closed")
            if self._client is None:
                # Imported on first use: aioboto3 and boto3 take a quarter of a second to
                # import, which every `nunet` command would pay otherwise.
                import aioboto3  # type: ignore[import-untyped]
                from aiobotocore.config import AioConfig  # type: ignore[import-untyped]

                session = aioboto3.Session(**self.config.session_options())
                settings = AioConfig(
                    s3={"addressing_style": self.config.addressing_style},
                    retries={"mode": "standard", "total_max_attempts": self.request_attempts},
                    max_pool_connections=max(10, 2 * self.concurrency),
                    connect_timeout=10,
                    read_timeout=60,
                )
                exits = contextlib.AsyncExitStack()
                self._client = await exits.enter_async_context(
                    session.client("s3", config=settings, **self.config.client_options())
                )
                self._exits = exits
            return self._client

    async def close(self) -> None:
        async with self._opening:
            self._closed = True
            exits, self._exits, self._client = self._exits, None, None
        if exits is not None:
            await exits.aclose()

    def _parse(self, location: str) -> Location:
        return parse_for(location, self.schemes, SERVED_BY)

    # --- download ---

    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        where = self._parse(location)
        if where.is_prefix:
            if checksum is not None:
                raise BadLocation(
                    f"{where}: a checksum names one object, and this is a prefix (it ends in /); "
                    "give the object's key, or no checksum"
                )
            return await self._download_prefix(where, target, max_bytes, progress)
        return Transferred((await self._fetch(where, target, checksum, max_bytes, progress),))

    async def _fetch(
        self,
        where: Location,
        target: Path,
        checksum: Checksum | None,
        max_bytes: int | None,
        progress: ProgressCallback | None,
    ) -> ObjectInfo:
        client = await self._s3()
        try:
            return await fetch_object(
                client,
                where.bucket,
                where.key,
                where.text,
                target,
                checksum=checksum,
                max_bytes=max_bytes,
                progress=progress,
                resumption=self.resumption,
            )
        except Exception as error:
            raise storage_error(error, where.text, where.bucket, where.key) from error

    async def _download_prefix(
        self,
        where: Location,
        target: Path,
        max_bytes: int | None,
        progress: ProgressCallback | None,
    ) -> Transferred:
        entries = [entry async for entry in self._entries(where)]
        total = sum(size for _, size, _ in entries)
        if max_bytes is not None and total > max_bytes:
            raise TooLarge(
                f"{where} holds {total} bytes, over the limit of {max_bytes} bytes; raise the "
                "limit or choose a narrower prefix"
            )
        jobs: list[tuple[Location, Path]] = []
        for key, _, _ in entries:
            relative = key[len(where.key) :]
            if relative.endswith("/"):
                continue  # a folder marker: an empty "directory" object, not a file
            path = safe_join(target, relative, what=f"the key {key!r} under {where}")
            jobs.append((self._parse(_prefix_text(where) + relative), path))
        await asyncio.to_thread(_make_directory, target, where.text)

        async def one(job: tuple[Location, Path]) -> ObjectInfo:
            return await self._fetch(job[0], job[1], None, None, progress)

        return Transferred(tuple(await _bounded(jobs, one, self.concurrency)))

    # --- upload ---

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        where = self._parse(location)
        items = await asyncio.to_thread(files_to_upload, source, _prefix_text(where))
        check_upload_size(items, where.text, max_bytes)
        jobs = [(item.path, item.size, self._parse(item.location)) for item in items]

        async def one(job: tuple[Path, int, Location]) -> ObjectInfo:
            return await self._put(job[0], job[1], job[2], progress)

        return Transferred(
            tuple(await _bounded(jobs, one, 1 if len(jobs) == 1 else self.concurrency))
        )

    async def _put(
        self, source: Path, size: int, where: Location, progress: ProgressCallback | None
    ) -> ObjectInfo:
        if size > MAX_OBJECT_BYTES:
            raise TooLarge(f"{source} is {size} bytes; an S3 object holds at most 5 TiB")
        client = await self._s3()
        target = Target(where.bucket, where.key, where.text)
        meter = ProgressMeter(where.text, progress, size)
        try:
            if size > self.multipart_threshold:
                sha256 = await put_in_parts(
                    client,
                    target,
                    source,
                    meter,
                    part_bytes=self.part_bytes,
                    concurrency=self.concurrency,
                )
            else:
                sha256 = await put_whole(client, target, source, meter)
        except Exception as error:
            raise storage_error(error, where.text, where.bucket, where.key) from error
        return ObjectInfo(where.text, meter.total, sha256, time.time())

    # --- size, list, delete ---

    async def size(self, location: str) -> int:
        where = self._parse(location)
        if where.is_prefix:
            return sum([size async for _, size, _ in self._entries(where)])
        client = await self._s3()
        try:
            answer = await client.head_object(Bucket=where.bucket, Key=where.key)
        except Exception as error:
            raise await self._refined(error, where) from error
        return int(answer["ContentLength"])

    async def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        where = self._parse(location)
        if not where.is_prefix:
            with contextlib.suppress(NotFound):
                yield await self._head(where)
            return
        async for key, size, modified in self._entries(where):
            yield ObjectInfo(f"s3://{where.bucket}/{key}", size, None, modified)

    async def delete(self, location: str) -> None:
        where = self._parse(location)
        client = await self._s3()
        try:
            if where.is_prefix:
                await self._delete_prefix(client, where)
            else:
                await client.delete_object(Bucket=where.bucket, Key=where.key)
            await self._abort_uploads(client, where)
        except Exception as error:
            raise storage_error(error, where.text, where.bucket, where.key) from error

    async def _delete_prefix(self, client: Any, where: Location) -> None:
        batch: list[str] = []
        async for key, _, _ in self._entries(where):
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                await self._delete_batch(client, where, batch)
                batch = []
        if batch:
            await self._delete_batch(client, where, batch)

    async def _delete_batch(self, client: Any, where: Location, keys: Sequence[str]) -> None:
        answer = await client.delete_objects(
            Bucket=where.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        failed = answer.get("Errors") or []
        if failed:
            first = failed[0]
            raise StorageError(
                f"{where}: {len(failed)} of {len(keys)} objects were not deleted, the first "
                f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}".rstrip()
            )

    async def _abort_uploads(self, client: Any, where: Location) -> None:
        """Drop incomplete multipart uploads of the deleted key(s): no orphan parts remain."""
        paginator = client.get_paginator("list_multipart_uploads")
        async for page in paginator.paginate(Bucket=where.bucket, Prefix=where.key):
            for upload in page.get("Uploads", []):
                if where.is_prefix or upload["Key"] == where.key:
                    with contextlib.suppress(Exception):
                        await client.abort_multipart_upload(
                            Bucket=where.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )

    async def _entries(self, where: Location) -> AsyncIterator[tuple[str, int, float]]:
        """(key, size, modified) of every object under the prefix, in key order."""
        client = await self._s3()
        paginator = client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=where.bucket, Prefix=where.key):
                for entry in page.get("Contents", []):
                    modified = entry["LastModified"].timestamp() if "LastModified" in entry else 0.0
                    yield str(entry["Key"]), int(entry["Size"]), modified
        except Exception as error:
            raise storage_error(error, where.text, where.bucket, where.key) from error

    async def _head(self, where: Location) -> ObjectInfo:
        client = await self._s3()
        try:
            answer = await client.head_object(Bucket=where.bucket, Key=where.key)
        except Exception as error:
            raise await self._refined(error, where) from error
        checksum = stored_sha256(answer)
        modified = answer["LastModified"].timestamp() if "LastModified" in answer else 0.0
        return ObjectInfo(where.text, int(answer["ContentLength"]), checksum, modified)

    async def _refined(self, error: Exception, where: Location) -> StorageError:
        """A HEAD answers a bare 404 for a missing bucket and a missing key alike: ask which."""
        if error_code(error) in ("404", "NotFound"):
            client = await self._s3()
            try:
                await client.head_bucket(Bucket=where.bucket)
            except Exception as bucket_error:
                if error_code(bucket_error) in ("404", "NoSuchBucket", "NotFound"):
                    return NotFound(f"{where}: bucket {where.bucket!r} does not exist")
        return storage_error(error, where.text, where.bucket, where.key)


def _prefix_text(where: Location) -> str:
    """The location as written, ending in `/` when it is a prefix (`s3://bucket` names the
    whole bucket, as `s3://bucket/` does)."""
    if where.is_prefix and not where.text.endswith("/"):
        return where.text + "/"
    return where.text


def _make_directory(path: Path, label: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{label}: cannot create the directory {path}: {error}") from error


async def _bounded(
    items: Sequence[Item], work: Callable[[Item], Awaitable[Result]], limit: int
) -> list[Result]:
    """`work` on every item, at most `limit` at once; results in the items' order. The first
    failure cancels the rest and is raised."""
    results: dict[int, Result] = {}
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await work(item)

    workers = [asyncio.create_task(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return [results[i] for i in range(len(items))]
