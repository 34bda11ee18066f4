"""The inline provider: a small input written into the ensemble itself.

`inline:<base64>` (or `inline:base64,<base64>`) carries bytes, `inline:text,<text>` carries
UTF-8 text as written. Read-only: there is nothing to upload to or delete. Size-capped, because
the literal travels inside every message that carries the ensemble.
"""

from __future__ import annotations

import binascii
from collections.abc import AsyncIterator
from pathlib import Path

from nunet.storage.locations import INLINE_SCHEME, parse_for, shorten
from nunet.storage.provider import (
    BadLocation,
    Checksum,
    ObjectInfo,
    ProgressCallback,
    StorageProvider,
    TooLarge,
    Transferred,
)
from nunet.storage.streaming import CHUNK_BYTES, AtomicFile, Digests

DEFAULT_MAX_BYTES = 1 << 20


class InlineProvider(StorageProvider):
    """Serves `inline:` locations; `max_bytes` caps what one literal may hold."""

    schemes = (INLINE_SCHEME,)
    writable = False

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def decode(self, location: str) -> bytes:
        """The bytes an inline location carries; BadLocation or TooLarge naming it."""
        payload = parse_for(location, self.schemes, "the inline provider").key
        name = shorten(location)
        if payload.startswith("text,"):
            data = payload[len("text,") :].encode()
        else:
            encoded = payload.removeprefix("base64,")
            if len(encoded) > (self.max_bytes + 2) // 3 * 4 + 4:
                raise self._too_large(name, len(encoded) // 4 * 3)
            try:
                data = binascii.a2b_base64(encoded, strict_mode=True)
            except (binascii.Error, ValueError) as error:
                raise BadLocation(
                    f"{name!r} is not valid base64 ({error}); write inline:<base64> "
                    "or inline:text,<text>"
                ) from None
        if len(data) > self.max_bytes:
            raise self._too_large(name, len(data))
        return data

    def _too_large(self, name: str, size: int) -> TooLarge:
        return TooLarge(
            f"{name!r} holds {size} bytes, over the inline limit of {self.max_bytes}; "
            "put larger inputs in a store (s3://, nunet://) or behind a URL"
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
        data = self.decode(location)
        async with AtomicFile(
            target,
            location=location,
            checksum=checksum,
            max_bytes=max_bytes,
            progress=progress,
            label=repr(shorten(location)),
        ) as out:
            out.expect(len(data))
            view = memoryview(data)
            for start in range(0, len(data), CHUNK_BYTES):
                await out.write(view[start : start + CHUNK_BYTES])
            info = await out.commit()
        return Transferred((info,))

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        raise self._read_only(location, "uploaded to")

    async def size(self, location: str) -> int:
        return len(self.decode(location))

    async def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        data = self.decode(location)
        digests = Digests()
        digests.update(data)
        yield ObjectInfo(location, len(data), digests.sha256)

    async def delete(self, location: str) -> None:
        raise self._read_only(location, "deleted")

    async def close(self) -> None:
        return None

    def _read_only(self, location: str, what: str) -> BadLocation:
        parse_for(location, self.schemes, "the inline provider")
        return BadLocation(
            f"{shorten(location)!r} cannot be {what}: an inline input is part of the ensemble "
            "(read-only)"
        )
