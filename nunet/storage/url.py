"""The URL provider: download an input from an `http://` or `https://` URL.

Streams with httpx into the verified atomic writer, checks the expected checksum, and when the
connection is cut mid-way asks for the rest with `Range: bytes=<done>-` (guarded by `If-Range`,
so a file that changed meanwhile is fetched whole again) when the server accepts ranges, or from
the start when not; after `retries` cuts in a row it gives up with `TransferInterrupted`.
Read-only: HTTP cannot list, upload or delete here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from nunet.storage.locations import URL_SCHEMES, parse_for
from nunet.storage.provider import (
    AccessDenied,
    BadLocation,
    Checksum,
    NotFound,
    ObjectInfo,
    ProgressCallback,
    StorageError,
    StorageProvider,
    TransferInterrupted,
    Transferred,
)
from nunet.storage.streaming import CHUNK_BYTES, AtomicFile

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class _Retry(Exception):
    """One attempt ended early in a way another attempt may fix."""

    def __init__(self, reason: str, *, cut: bool) -> None:
        super().__init__(reason)
        self.cut = cut  # the connection broke mid-transfer (else: a server error status)


@dataclasses.dataclass
class _Resume:
    """What a later attempt resumes against: the ETag or Last-Modified of the object being
    fetched, when its server accepts ranges (None: start again from the first byte)."""

    validator: str | None = None


class UrlProvider(StorageProvider):
    """Serves `http://` and `https://` locations (downloads and sizes only)."""

    schemes = URL_SCHEMES
    writable = False

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        retries: int = 4,
        retry_backoff: float = 0.5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.chunk_bytes = chunk_bytes
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=True,
        )

    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        parse_for(location, self.schemes, "the URL provider")
        async with AtomicFile(
            target, location=location, checksum=checksum, max_bytes=max_bytes, progress=progress
        ) as out:
            resume = _Resume()
            failures = 0
            while True:
                try:
                    await self._fetch(location, out, resume)
                    break
                except _Retry as retry:
                    failures += 1
                    if failures > self.retries:
                        raise self._gave_up(location, retry, out) from None
                    await asyncio.sleep(self.retry_backoff * 2 ** (failures - 1))
            info = await out.commit()
        return Transferred((info,))

    async def _fetch(self, location: str, out: AtomicFile, resume: _Resume) -> None:
        """One GET: the whole object, or its rest from `out.done` when the server can."""
        headers = {"Accept-Encoding": "identity"}
        resuming = out.done > 0 and resume.validator is not None
        if resuming:
            headers["Range"] = f"bytes={out.done}-"
            headers["If-Range"] = resume.validator or ""
        try:
            async with self._client.stream("GET", location, headers=headers) as response:
                self._check_status(location, response)
                if response.status_code == 206 and resuming:
                    start, total = self._content_range(location, response)
                    if start != out.done:
                        await out.restart()
                        raise _Retry(f"the server resumed at byte {start}", cut=True)
                else:
                    if out.done:
                        await out.restart()  # no range honoured: the whole object again
                    total = _int(response.headers.get("Content-Length"))
                if total is not None:
                    out.expect(total)
                accepts_ranges = response.headers.get("Accept-Ranges", "").lower() == "bytes"
                found = response.headers.get("ETag") or response.headers.get("Last-Modified")
                resume.validator = found if accepts_ranges else None
                try:
                    async for chunk in response.aiter_raw(self.chunk_bytes):
                        await out.write(chunk)
                except httpx.TransportError as error:
                    raise _Retry(f"the connection broke ({_describe(error)})", cut=True) from None
                if total is not None and out.done < total:
                    raise _Retry(f"the server sent {out.done} of {total} bytes", cut=True)
        except httpx.TransportError as error:
            raise _Retry(f"the connection broke ({_describe(error)})", cut=True) from None

    def _check_status(self, location: str, response: httpx.Response) -> None:
        status = response.status_code
        if status in (200, 206):
            return
        if status in (404, 410):
            raise NotFound(f"{location}: the server has no such file (HTTP {status})")
        if status in (401, 403):
            raise AccessDenied(f"{location}: the server refused access (HTTP {status})")
        if status == 429 or status >= 500:
            raise _Retry(f"the server answered HTTP {status}", cut=False)
        raise StorageError(f"{location}: the server answered HTTP {status}")

    def _content_range(self, location: str, response: httpx.Response) -> tuple[int, int | None]:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None:
            raise StorageError(
                f"{location}: a partial answer without a valid Content-Range "
                f"({response.headers.get('Content-Range')!r})"
            )
        total = match.group(3)
        return int(match.group(1)), (None if total == "*" else int(total))

    def _gave_up(self, location: str, retry: _Retry, out: AtomicFile) -> StorageError:
        tries = self.retries + 1
        if retry.cut:
            return TransferInterrupted(
                f"{location}: the transfer was cut {tries} times, last at byte {out.done} "
                f"({retry}); nothing was written to {out.target}; try again later"
            )
        error = StorageError(f"{location}: {retry} ({tries} tries); try again later")
        error.retryable = True
        return error

    async def size(self, location: str) -> int:
        parse_for(location, self.schemes, "the URL provider")
        try:
            response = await self._client.head(location, headers={"Accept-Encoding": "identity"})
        except httpx.TransportError as error:
            raise TransferInterrupted(f"{location}: {_describe(error)}") from None
        if response.status_code == 405:
            return await self._size_by_range(location)
        try:
            self._check_status(location, response)
        except _Retry as retry:
            refused = StorageError(f"{location}: {retry}")
            refused.retryable = True
            raise refused from None
        length = _int(response.headers.get("Content-Length"))
        if length is None:
            return await self._size_by_range(location)
        return length

    async def _size_by_range(self, location: str) -> int:
        try:
            async with self._client.stream(
                "GET", location, headers={"Range": "bytes=0-0", "Accept-Encoding": "identity"}
            ) as response:
                self._check_status(location, response)
                if response.status_code == 206:
                    total = self._content_range(location, response)[1]
                    if total is not None:
                        return total
                length = _int(response.headers.get("Content-Length"))
        except httpx.TransportError as error:
            raise TransferInterrupted(f"{location}: {_describe(error)}") from None
        except _Retry as retry:
            raise StorageError(f"{location}: {retry}") from None
        if response.status_code == 200 and length is not None:
            return length
        raise StorageError(f"{location}: the server does not say how large the file is")

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        raise self._read_only(location, "uploaded to")

    def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        raise self._read_only(location, "listed")

    async def delete(self, location: str) -> None:
        raise self._read_only(location, "deleted")

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _read_only(self, location: str, what: str) -> BadLocation:
        parse_for(location, self.schemes, "the URL provider")
        return BadLocation(f"{location} cannot be {what}: URLs are read-only inputs")


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _describe(error: httpx.TransportError) -> str:
    return str(error) or type(error).__name__
