"""The swarm's own object store: `nunet://bucket/key` on NATS JetStream's object store.

The embedded default: every node already runs a NATS server with JetStream, so a swarm moves
inputs and results with no external service. Objects keep the NATS object store's layout (a
stream `OBJ_<bucket>`, chunks on `$O.<bucket>.C.<nuid>`, one metadata message per key holding
the object's size and SHA-256), so `nats object get` and nats-py read what this provider
writes, and back. A bucket is created on its first upload with `JetStreamStoreConfig`'s
replicas, storage and limits.

A download is written through the verified atomic writer: the store's SHA-256 and the caller's
checksum are checked before the file is renamed into place. It resumes from the last chunk
received when cut. An upload cut mid-way publishes no metadata (nothing becomes visible), its
chunks are purged, and it raises `TransferInterrupted` for the caller to retry.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors as js_errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from nats.js.object_store import ObjectStore
from nats.nuid import NUID

from nunet.mesh import read_mesh_access
from nunet.storage.jetstream_chunks import ChunkSender, receive_chunks
from nunet.storage.jetstream_config import JetStreamStoreConfig
from nunet.storage.jetstream_errors import storage_error
from nunet.storage.jetstream_names import (
    chunk_subject,
    digest_checksum,
    digest_text,
    meta_subject,
    parse_mtime,
    stream_name,
)
from nunet.storage.locations import Location, parse_for
from nunet.storage.paths import check_upload_size, files_to_upload, safe_join
from nunet.storage.provider import (
    Checksum,
    ChecksumMismatch,
    ObjectInfo,
    ProgressCallback,
    StorageError,
    StorageProvider,
    TooLarge,
    Transferred,
)
from nunet.storage.streaming import AtomicFile, ProgressMeter, read_chunks

T = TypeVar("T")

_SERVED_BY = "the swarm store (JetStream)"
_HEADER_ROOM = 1024
_READ_CHUNKS = 8  # chunks read from disk per worker-thread hop on upload


class JetStreamProvider(StorageProvider):
    """`nunet://bucket/key` through a connected NATS client (usually the node's own)."""

    schemes = ("nunet",)

    def __init__(
        self,
        client: NatsClient,
        config: JetStreamStoreConfig | None = None,
        *,
        owns_client: bool = False,
    ) -> None:
        config = config if config is not None else JetStreamStoreConfig()
        # A chunk is one message: never larger than the server accepts (headers need room).
        fitting = client.max_payload - _HEADER_ROOM
        if client.is_connected and 0 < fitting < config.chunk_bytes:
            config = msgspec.structs.replace(config, chunk_bytes=max(fitting, 1024))
        self._config = config
        self._nc = client
        self._js: JetStreamContext = client.jetstream(
            domain=self._config.domain, timeout=self._config.request_seconds
        )
        self._owns_client = owns_client
        self._nuid = NUID()

    @classmethod
    async def connect(
        cls,
        servers: str | list[str],
        *,
        token: str | None = None,
        config: JetStreamStoreConfig | None = None,
        reconnect_seconds: float = 0.5,
        connect_seconds: float = 10.0,
    ) -> JetStreamProvider:
        """A provider with a connection of its own to `servers`, closed by `close()`. The
        first connection must succeed within `connect_seconds`; later cuts are reconnected."""
        named = servers if isinstance(servers, str) else ", ".join(servers)
        refused = asyncio.Event()  # a refused token: reconnecting for ever would not help

        async def on_error(exc: Exception) -> None:
            if (
                isinstance(exc, nats.errors.AuthorizationError)
                or "authorization" in str(exc).lower()
            ):
                refused.set()

        connecting = asyncio.create_task(
            nats.connect(
                servers,
                token=token,
                name="nunet-storage",
                connect_timeout=min(connect_seconds, 5.0),
                max_reconnect_attempts=-1,  # once connected, ride out a server restart
                reconnect_time_wait=reconnect_seconds,
                error_cb=on_error,
            )
        )
        watching = asyncio.create_task(refused.wait())
        try:
            await asyncio.wait(
                (connecting, watching), timeout=connect_seconds, return_when=FIRST_COMPLETED
            )
        finally:
            watching.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            cause: BaseException = (
                nats.errors.AuthorizationError() if refused.is_set() else TimeoutError()
            )
            raise storage_error(cause, named, "connecting")
        try:
            client = connecting.result()
        except Exception as exc:  # nats-py raises several unrelated types when connecting
            raise storage_error(exc, named, "connecting") from None
        return cls(client, config, owns_client=True)

    @classmethod
    async def from_mesh_access(
        cls, path: Path, config: JetStreamStoreConfig | None = None
    ) -> JetStreamProvider:
        """Connected to a node's own server as its `<home>/mesh.json` describes it."""
        access = await asyncio.to_thread(read_mesh_access, path)
        return await cls.connect(access.client_url, token=access.token, config=config)

    @property
    def config(self) -> JetStreamStoreConfig:
        return self._config

    async def close(self) -> None:
        if self._owns_client and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # --- downloads ---

    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        name = self._parse(location)
        limit = self._limit(max_bytes)
        if name.is_prefix:
            return await self._download_prefix(name, target, limit, progress)
        info = await self._guard(location, "downloading", lambda: self._object_info(name))
        moved = await self._download_object(name, info, target, checksum, limit, progress)
        return Transferred((moved,))

    async def _download_prefix(
        self, prefix: Location, target: Path, limit: int | None, progress: ProgressCallback | None
    ) -> Transferred:
        objects = await self._listing(prefix)
        total = sum(info.size or 0 for info in objects)
        if limit is not None and total > limit:
            raise TooLarge(
                f"{prefix}: {total} bytes under the prefix, over the limit of {limit} bytes"
            )
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        moved = []
        for info in objects:
            # Keys are checked as locations, and again as paths under the target.
            child = prefix.child(info.name[len(prefix.key) :])
            relative = child.key[len(prefix.key) :]
            path = await asyncio.to_thread(safe_join, target, relative, what=f"{child} as a file")
            moved.append(await self._download_object(child, info, path, None, None, progress))
        return Transferred(tuple(moved))

    async def _download_object(
        self,
        name: Location,
        info: api.ObjectInfo,
        target: Path,
        checksum: Checksum | None,
        limit: int | None,
        progress: ProgressCallback | None,
    ) -> ObjectInfo:
        location = str(name)
        stored = digest_checksum(info.digest)
        if stored is None:
            raise StorageError(f"{location}: the store keeps no SHA-256 digest for the object")
        if checksum is not None and checksum.algorithm == "sha256" and checksum != stored:
            raise ChecksumMismatch(
                f"{location}: expected {checksum}, the store holds {stored}; "
                "the object changed since the checksum was taken, or it is the wrong object"
            )
        # The writer verifies one checksum: the caller's when it is another algorithm (then the
        # store's SHA-256 is checked here, on the side), else the store's.
        own = hashlib.sha256() if checksum is not None and checksum != stored else None
        size = info.size or 0
        async with AtomicFile(
            target,
            location=location,
            checksum=checksum if own is not None else stored,
            max_bytes=limit,
            progress=progress,
        ) as out:
            out.expect(size)

            async def sink(data: bytes) -> None:
                if own is not None:
                    own.update(data)
                await out.write(data)

            if size:
                await receive_chunks(
                    self._js,
                    self._config,
                    location=location,
                    stream=stream_name(name.bucket),
                    subject=chunk_subject(name.bucket, info.nuid),
                    chunks=info.chunks or 0,
                    sink=sink,
                    closed=lambda: self._nc.is_closed,
                )
            if out.done != size:
                raise StorageError(
                    f"{location}: the store sent {out.done} bytes of a {size}-byte object; "
                    "its chunks are damaged"
                )
            if own is not None and own.hexdigest() != stored.hex:
                raise ChecksumMismatch(
                    f"{location}: what arrived does not match the store's digest {stored}"
                )
            written = await out.commit()
        return ObjectInfo(location, written.size, stored, parse_mtime(info.mtime))

    # --- uploads ---

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        self._parse(location)
        limit = self._limit(max_bytes)
        items = await asyncio.to_thread(files_to_upload, source, location)
        check_upload_size(items, location, limit)
        moved = []
        for item in items:
            name = self._parse(item.location)
            moved.append(await self._upload_file(item.path, name, limit, progress))
        return Transferred(tuple(moved))

    async def _upload_file(
        self, source: Path, name: Location, limit: int | None, progress: ProgressCallback | None
    ) -> ObjectInfo:
        location = str(name)
        try:
            size = (await asyncio.to_thread(source.stat)).st_size
        except OSError as exc:
            raise StorageError(f"cannot read {source} to upload it to {location}: {exc}") from None
        if limit is not None and size > limit:
            raise TooLarge(f"{source} is {size} bytes, over the limit of {limit} for {location}")
        store = await self._guard(
            location, "uploading", lambda: self._bucket(name.bucket, create=True)
        )
        previous = await self._guard(location, "uploading", lambda: _current_nuid(store, name.key))
        nuid = self._nuid.next().decode()
        stream = stream_name(name.bucket)
        sender = ChunkSender(self._js, self._config, stream, chunk_subject(name.bucket, nuid))
        meter = ProgressMeter(location, progress, size)
        meter.report(0)

        async def send() -> None:
            chunk_bytes = self._config.chunk_bytes * _READ_CHUNKS
            async for block in read_chunks(source, chunk_bytes=chunk_bytes):
                if limit is not None and sender.sent + len(block) > limit:
                    raise TooLarge(f"{source} grew past the limit of {limit} bytes while read")
                await sender.send(block, meter.report)
            await sender.finish(meter.report)
            info = api.ObjectInfo(
                name=name.key,
                bucket=name.bucket,
                nuid=nuid,
                size=sender.sent,
                chunks=sender.chunks,
                digest=digest_text(sender.sha256),
                mtime=datetime.now(UTC).isoformat(),
                options=api.ObjectMetaOptions(max_chunk_size=self._config.chunk_bytes),
            )
            # The metadata makes the object visible: only once every chunk is stored.
            await self._js.publish(
                meta_subject(name.bucket, name.key),
                json.dumps(info.as_dict()).encode(),
                headers={api.Header.ROLLUP: "sub"},
            )

        try:
            await send()
        except BaseException as exc:
            sender.abandon()
            await self._purge(stream, name.bucket, nuid)
            if isinstance(exc, Exception):
                raise storage_error(exc, location, "uploading") from None
            raise
        if previous is not None:  # the key's earlier content is unreachable garbage now
            await self._purge(stream, name.bucket, previous)
        meter.finish(sender.sent)
        return ObjectInfo(location, sender.sent, Checksum("sha256", sender.sha256.hex()), _now())

    async def _purge(self, stream: str, bucket: str, nuid: str) -> None:
        """Best effort: chunks with no metadata pointing at them are invisible."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self._js.purge_stream(stream, subject=chunk_subject(bucket, nuid)),
                self._config.request_seconds,
            )

    # --- size, list, delete ---

    async def size(self, location: str) -> int:
        name = self._parse(location)
        if name.is_prefix:
            return sum(info.size or 0 for info in await self._listing(name))
        info = await self._guard(location, "reading the size of", lambda: self._object_info(name))
        return info.size or 0

    async def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        name = self._parse(location)
        for info in await self._listing(name):
            yield ObjectInfo(
                f"nunet://{name.bucket}/{info.name}",
                info.size or 0,
                digest_checksum(info.digest),
                parse_mtime(info.mtime),
            )

    async def delete(self, location: str) -> None:
        name = self._parse(location)
        keys = [info.name for info in await self._listing(name)] if name.is_prefix else [name.key]
        for key in keys:
            await self._delete_one(name, key)

    async def _delete_one(self, name: Location, key: str) -> None:
        try:
            store = await self._bucket(name.bucket, create=False)
            await store.delete(key)
        except js_errors.NotFoundError:
            return  # no bucket, no object, or deleted already
        except Exception as exc:
            raise storage_error(exc, f"nunet://{name.bucket}/{key}", "deleting") from None

    # --- helpers ---

    def _parse(self, location: str) -> Location:
        return parse_for(location, self.schemes, _SERVED_BY)

    def _limit(self, max_bytes: int | None) -> int | None:
        limits = [n for n in (max_bytes, self._config.max_object_bytes) if n is not None]
        return min(limits) if limits else None

    async def _bucket(self, bucket: str, *, create: bool) -> ObjectStore:
        try:
            return await self._js.object_store(bucket)
        except js_errors.BucketNotFoundError:
            if not create:
                raise
        config = self._config
        storage = api.StorageType.FILE if config.storage == "file" else api.StorageType.MEMORY
        return await self._js.create_object_store(
            bucket,
            config=api.ObjectStoreConfig(
                description="nunet swarm store",
                storage=storage,
                replicas=config.replicas,
                max_bytes=config.bucket_max_bytes,
                ttl=config.ttl_seconds,
            ),
        )

    async def _object_info(self, name: Location) -> api.ObjectInfo:
        store = await self._bucket(name.bucket, create=False)
        info = await store.get_info(name.key)
        if info.is_link():
            raise StorageError(f"{name}: is a link to another object; links are not followed")
        return info

    async def _listing(self, prefix: Location) -> tuple[api.ObjectInfo, ...]:
        """The live objects whose key starts with the location's key, in key order; none when
        the bucket does not exist."""

        async def entries() -> builtins.list[api.ObjectInfo]:
            try:
                store = await self._bucket(prefix.bucket, create=False)
                return await asyncio.wait_for(
                    store.list(ignore_deletes=True), self._config.stall_seconds
                )
            except js_errors.NotFoundError:  # no bucket, or nothing in it
                return []

        found = await self._guard(str(prefix), "listing", entries)
        live = [e for e in found if not e.deleted and e.name.startswith(prefix.key)]
        return tuple(sorted(live, key=lambda e: e.name))

    async def _guard(self, location: str, doing: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` (a request that may be repeated safely), again after a timeout or a
        cut connection, `resume_attempts` times; a failure becomes a `StorageError` naming
        `location`."""
        attempt = 0
        while True:
            try:
                return await operation()
            except Exception as exc:
                attempt += 1
                if (
                    not _transient(exc)
                    or self._nc.is_closed
                    or attempt > self._config.resume_attempts
                ):
                    raise storage_error(exc, location, doing) from None


def _transient(exc: Exception) -> bool:
    return isinstance(
        exc,
        asyncio.TimeoutError
        | nats.errors.StaleConnectionError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.OutboundBufferLimitError
        | ConnectionError,
    )


async def _current_nuid(store: ObjectStore, key: str) -> str | None:
    """Where the key's current content lives, if it has any."""
    try:
        info = await store.get_info(key)
    except js_errors.NotFoundError:
        return None
    return None if info.deleted else info.nuid


def _now() -> float:
    return datetime.now(UTC).timestamp()
