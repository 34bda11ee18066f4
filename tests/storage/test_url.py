"""The URL provider against a real HTTP/1.1 server on 127.0.0.1 (through a relay that can cut
connections): the contract's download tests, then what only URLs have (servers without ranges,
HTTP errors, retries, schemes)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.storage import (
    AccessDenied,
    BadLocation,
    NotFound,
    StorageError,
    TransferInterrupted,
    UrlProvider,
)
from tests.storage.contract import (
    MIB,
    StorageContract,
    StoreUnderTest,
    file_sha256,
    names_in,
    write_large,
)
from tests.storage.http_server import FileServer, Request
from tests.storage.relay import Relay


class UrlStore(StoreUnderTest):
    relay: Relay

    def __init__(self, server: FileServer, relay: Relay, provider: UrlProvider) -> None:
        self.server = server
        self.relay = relay
        self.provider = provider
        self.prefix = uuid.uuid4().hex[:12]

    def location(self, key: str) -> str:
        return f"http://{self.relay.address}/{self.prefix}/{key}"

    async def put(self, key: str, data: bytes | Path) -> str:
        path = self.server.root / self.prefix / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            await asyncio.to_thread(shutil.copyfile, data, path)
        else:
            await asyncio.to_thread(path.write_bytes, data)
        return self.location(key)


@pytest.fixture
async def url_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UrlStore]:
    server = await FileServer(tmp_path_factory.mktemp("www")).start()
    relay = await Relay("127.0.0.1", server.port).start()
    provider = UrlProvider(retries=3, retry_backoff=0.01)
    try:
        yield UrlStore(server, relay, provider)
    finally:
        await provider.close()
        await relay.close()
        await server.close()


class TestUrlContract(StorageContract):
    supports_upload = False
    supports_list = False
    supports_delete = False
    supports_resume = True

    @pytest.fixture
    def store(self, url_store: UrlStore) -> StoreUnderTest:
        return url_store


async def test_a_server_without_ranges_is_read_again_from_the_start(
    url_store: UrlStore, tmp_path: Path
) -> None:
    url_store.server.ranges = False
    size = 4 * MIB
    expected = write_large(tmp_path / "src", size)
    location = await url_store.put("whole", tmp_path / "src")
    url_store.relay.cut_next(size // 2)
    moved = await url_store.provider.download(location, tmp_path / "out", checksum=expected)
    assert moved.objects[0].checksum == expected
    assert file_sha256(tmp_path / "out") == expected
    assert [r.range for r in url_store.server.requests] == [None, None]
    assert url_store.relay.counters.from_server > size  # half, then all of it again


async def test_a_resumed_download_asks_for_the_rest_only(
    url_store: UrlStore, tmp_path: Path
) -> None:
    size = 4 * MIB
    write_large(tmp_path / "src", size)
    location = await url_store.put("rest", tmp_path / "src")
    url_store.relay.cut_next(size // 2)
    await url_store.provider.download(location, tmp_path / "out")
    first, second = url_store.server.requests
    assert first.range is None
    assert second.range is not None
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= size // 2


async def test_a_file_changed_between_attempts_is_fetched_whole_again(
    url_store: UrlStore, tmp_path: Path
) -> None:
    size = 4 * MIB
    write_large(tmp_path / "old", size)
    changed = write_large(tmp_path / "new", size)
    location = await url_store.put("changing", tmp_path / "old")
    url_store.relay.cut_next(size // 2)

    async def replace_before_the_resume(request: Request) -> None:
        if request.range is not None:
            await url_store.put("changing", tmp_path / "new")

    url_store.server.on_request = replace_before_the_resume
    moved = await url_store.provider.download(location, tmp_path / "out")
    assert url_store.server.requests[-1].range is not None
    # If-Range no longer matched: the server sent the new file whole, never a splice of both
    assert moved.objects[0].checksum == changed
    assert file_sha256(tmp_path / "out") == changed


@pytest.mark.parametrize(
    ("status", "error"), [(403, AccessDenied), (401, AccessDenied), (410, NotFound)]
)
async def test_http_refusals_raise_their_error_naming_the_url(
    url_store: UrlStore, tmp_path: Path, status: int, error: type[StorageError]
) -> None:
    location = await url_store.put("guarded", b"secret")
    url_store.server.status_override[f"/{url_store.prefix}/guarded"] = status
    with pytest.raises(error) as raised:
        await url_store.provider.download(location, tmp_path / "g")
    assert location in str(raised.value)
    assert str(status) in str(raised.value)
    assert names_in(tmp_path) == []


async def test_a_server_error_is_retried_then_reported_as_retryable(
    url_store: UrlStore, tmp_path: Path
) -> None:
    location = await url_store.put("flaky", b"data")
    url_store.server.status_override[f"/{url_store.prefix}/flaky"] = 503
    with pytest.raises(StorageError) as raised:
        await url_store.provider.download(location, tmp_path / "f")
    assert "503" in str(raised.value)
    assert raised.value.retryable
    assert len(url_store.server.requests) == 4  # the first try and 3 retries
    assert names_in(tmp_path) == []


async def test_an_unreachable_server_is_interrupted_not_a_trace(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    provider = UrlProvider(retries=1, retry_backoff=0.01)
    try:
        with pytest.raises(TransferInterrupted) as raised:
            await provider.download(f"http://127.0.0.1:{port}/x", tmp_path / "x")
        assert f"127.0.0.1:{port}" in str(raised.value)
    finally:
        await provider.close()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://host/x", "s3://bucket/key"])
async def test_non_http_locations_are_refused(location: str, tmp_path: Path) -> None:
    provider = UrlProvider()
    try:
        with pytest.raises(BadLocation) as raised:
            await provider.download(location, tmp_path / "x")
        assert location.split(":")[0] in str(raised.value)
    finally:
        await provider.close()


async def test_a_url_without_a_host_is_refused(tmp_path: Path) -> None:
    provider = UrlProvider()
    try:
        with pytest.raises(BadLocation, match="no host"):
            await provider.download("http:///path", tmp_path / "x")
    finally:
        await provider.close()


async def test_urls_are_read_only(url_store: UrlStore, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    location = url_store.location("f")
    with pytest.raises(BadLocation, match="read-only"):
        await url_store.provider.upload(tmp_path / "f", location)
    with pytest.raises(BadLocation, match="read-only"):
        await url_store.provider.delete(location)
    with pytest.raises(BadLocation, match="read-only"):
        _ = [o async for o in url_store.provider.list(location)]
