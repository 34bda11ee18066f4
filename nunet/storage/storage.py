"""The node's storage: one router from a location's scheme to the provider that serves it.

Every location is parsed and validated here first, so a malformed one gets the same clear
`BadLocation` whichever provider would have served it; an upload to a read-only scheme and a
scheme no provider serves on this node are refused naming what is available.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from nunet.storage.locations import parse_location, shorten
from nunet.storage.provider import (
    BadLocation,
    Checksum,
    ObjectInfo,
    ProgressCallback,
    StorageError,
    StorageProvider,
    Transferred,
)

log = logging.getLogger(__name__)


class Storage:
    """Routes each call to the provider serving the location's scheme; closes them all."""

    def __init__(self, providers: Iterable[StorageProvider]) -> None:
        self._providers: dict[str, StorageProvider] = {}
        for provider in providers:
            for scheme in provider.schemes:
                if scheme in self._providers:
                    raise StorageError(
                        f"two providers serve {scheme}: ({type(self._providers[scheme]).__name__}"
                        f" and {type(provider).__name__}); configure one"
                    )
                self._providers[scheme] = provider
        self._closed = False

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(sorted(self._providers))

    def provider_for(self, location: str, *, writing: bool = False) -> StorageProvider:
        """The provider of a valid `location`; BadLocation when none serves it here (or, when
        `writing`, none that takes uploads)."""
        if self._closed:
            raise StorageError("storage is closed")
        scheme = parse_location(location).scheme
        provider = self._providers.get(scheme)
        if provider is None:
            raise BadLocation(
                f"{shorten(location)!r}: this node has no store for {scheme}: "
                f"(configured: {', '.join(f'{s}:' for s in self.schemes) or 'none'})"
            )
        if writing and not provider.writable:
            raise BadLocation(
                f"{shorten(location)!r}: {scheme}: locations are read-only; send outputs to "
                + (
                    ", ".join(f"{s}://" for s, p in sorted(self._providers.items()) if p.writable)
                    or "a writable store (none is configured)"
                )
            )
        return provider

    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        return await self.provider_for(location).download(
            location, target, checksum=checksum, max_bytes=max_bytes, progress=progress
        )

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        return await self.provider_for(location, writing=True).upload(
            source, location, max_bytes=max_bytes, progress=progress
        )

    async def size(self, location: str) -> int:
        return await self.provider_for(location).size(location)

    def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        return self.provider_for(location).list(location)

    async def delete(self, location: str) -> None:
        await self.provider_for(location, writing=True).delete(location)

    async def close(self) -> None:
        """Close every provider once, even when one of them fails to."""
        if self._closed:
            return
        self._closed = True
        for provider in {id(p): p for p in self._providers.values()}.values():
            try:
                await provider.close()
            except Exception:
                log.exception("closing the %s storage provider failed", type(provider).__name__)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()
