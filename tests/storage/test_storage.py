"""The storage router: each location goes to the provider of its scheme, validated first;
unknown schemes and uploads to read-only ones are refused naming what is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.storage import (
    BadLocation,
    Checksum,
    InlineProvider,
    ObjectInfo,
    ProgressCallback,
    Storage,
    StorageError,
    StorageProvider,
    Transferred,
    UrlProvider,
)
from tests.storage.contract import sha256


class Recording(StorageProvider):
    """A writable provider that only records what it was asked: the router's tests check
    routing, not transfers (every real provider runs the contract)."""

    schemes = ("s3",)

    def __init__(self, *, fail_close: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.closed = 0
        self.fail_close = fail_close

    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        self.calls.append(("download", location))
        return Transferred(())

    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        self.calls.append(("upload", location))
        return Transferred(())

    async def size(self, location: str) -> int:
        self.calls.append(("size", location))
        return 7

    async def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        self.calls.append(("list", location))
        yield ObjectInfo(location + "x", 1)

    async def delete(self, location: str) -> None:
        self.calls.append(("delete", location))

    async def close(self) -> None:
        self.closed += 1
        if self.fail_close:
            raise RuntimeError("close failed")


async def test_each_call_goes_to_the_provider_of_its_scheme(tmp_path: Path) -> None:
    s3 = Recording()
    async with Storage([InlineProvider(), s3]) as storage:
        assert storage.schemes == ("inline", "s3")
        moved = await storage.download("inline:text,hi", tmp_path / "hi")
        assert moved.objects[0].checksum == sha256(b"hi")
        await storage.download("s3://abc/k", tmp_path / "k")
        await storage.upload(tmp_path / "hi", "s3://abc/up")
        assert await storage.size("s3://abc/k") == 7
        assert [o.location async for o in storage.list("s3://abc/p/")] == ["s3://abc/p/x"]
        await storage.delete("s3://abc/k")
    assert s3.calls == [
        ("download", "s3://abc/k"),
        ("upload", "s3://abc/up"),
        ("size", "s3://abc/k"),
        ("list", "s3://abc/p/"),
        ("delete", "s3://abc/k"),
    ]
    assert s3.closed == 1


async def test_a_scheme_with_no_provider_here_is_refused_naming_the_configured_ones(
    tmp_path: Path,
) -> None:
    async with Storage([InlineProvider()]) as storage:
        with pytest.raises(BadLocation) as raised:
            await storage.download("nunet://results/x", tmp_path / "x")
    assert "no store for nunet:" in str(raised.value)
    assert "configured: inline:" in str(raised.value)


async def test_malformed_locations_are_refused_before_any_provider_sees_them(
    tmp_path: Path,
) -> None:
    s3 = Recording()
    async with Storage([s3]) as storage:
        with pytest.raises(BadLocation, match=r"'\.\.'"):
            await storage.download("s3://abc/../etc", tmp_path / "x")
    assert s3.calls == []


async def test_writing_to_a_read_only_scheme_names_the_writable_ones(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    async with Storage([InlineProvider(), UrlProvider(), Recording()]) as storage:
        with pytest.raises(BadLocation) as raised:
            await storage.upload(tmp_path / "f", "https://example.org/f")
        assert "read-only" in str(raised.value)
        assert "s3://" in str(raised.value)
        with pytest.raises(BadLocation, match="read-only"):
            await storage.delete("inline:text,x")


def test_two_providers_for_one_scheme_are_refused() -> None:
    with pytest.raises(StorageError, match="two providers serve s3"):
        Storage([Recording(), Recording()])


async def test_close_closes_every_provider_once_even_when_one_fails(tmp_path: Path) -> None:
    failing, inline = Recording(fail_close=True), InlineProvider()
    storage = Storage([failing, inline])
    await storage.close()
    await storage.close()
    assert failing.closed == 1
    with pytest.raises(StorageError, match="closed"):
        await storage.size("inline:text,x")
