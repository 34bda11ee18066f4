"""The inline provider: the contract's download tests over literals, then what only inline has
(text form, strict base64, the size cap, read-only)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.storage import BadLocation, InlineProvider, TooLarge
from tests.storage.contract import StorageContract, StoreUnderTest, names_in, sha256


class InlineStore(StoreUnderTest):
    def __init__(self) -> None:
        self.provider = InlineProvider()

    def location(self, key: str) -> str:
        return "inline:text," + key  # inline locations are their content: only put() is used

    async def put(self, key: str, data: bytes | Path) -> str:
        raw = await asyncio.to_thread(data.read_bytes) if isinstance(data, Path) else data
        return "inline:" + base64.b64encode(raw).decode()


class TestInlineContract(StorageContract):
    supports_upload = False
    supports_list = False
    supports_delete = False
    supports_not_found = False
    supports_large = False
    supports_interrupt = False

    @pytest.fixture
    async def store(self) -> AsyncIterator[StoreUnderTest]:
        store = InlineStore()
        yield store
        await store.provider.close()


async def test_text_is_written_as_utf8(tmp_path: Path) -> None:
    moved = await InlineProvider().download("inline:text,héllo, world", tmp_path / "t")
    assert (tmp_path / "t").read_bytes() == "héllo, world".encode()
    assert moved.objects[0].checksum == sha256("héllo, world".encode())


async def test_a_base64_prefix_is_accepted(tmp_path: Path) -> None:
    await InlineProvider().download("inline:base64,aGk=", tmp_path / "t")
    assert (tmp_path / "t").read_bytes() == b"hi"


@pytest.mark.parametrize("payload", ["not base64!", "aGk", "aGk=extra", "a"])
async def test_malformed_base64_is_refused_and_writes_nothing(payload: str, tmp_path: Path) -> None:
    with pytest.raises(BadLocation) as raised:
        await InlineProvider().download("inline:" + payload, tmp_path / "t")
    assert "base64" in str(raised.value)
    assert names_in(tmp_path) == []


async def test_a_literal_over_the_cap_is_too_large_before_decoding(tmp_path: Path) -> None:
    provider = InlineProvider(max_bytes=1000)
    just_fits = "inline:" + base64.b64encode(b"x" * 1000).decode()
    assert await provider.size(just_fits) == 1000
    for over in ("inline:" + base64.b64encode(b"x" * 1001).decode(), "inline:text," + "y" * 1001):
        with pytest.raises(TooLarge) as raised:
            await provider.download(over, tmp_path / "t")
        assert "1000" in str(raised.value)
    assert names_in(tmp_path) == []


async def test_messages_name_a_long_literal_shortly(tmp_path: Path) -> None:
    location = "inline:" + base64.b64encode(b"z" * 5000).decode()
    with pytest.raises(TooLarge) as raised:
        await InlineProvider(max_bytes=100).size(location)
    assert location[:40] in str(raised.value)
    assert len(str(raised.value)) < 300


async def test_inline_is_read_only(tmp_path: Path) -> None:
    provider = InlineProvider()
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(BadLocation, match="read-only"):
        await provider.upload(tmp_path / "f", "inline:text,x")
    with pytest.raises(BadLocation, match="read-only"):
        await provider.delete("inline:text,x")


async def test_list_gives_the_literal_itself() -> None:
    listed = [o async for o in InlineProvider().list("inline:text,abc")]
    assert [(o.location, o.size, o.checksum) for o in listed] == [
        ("inline:text,abc", 3, sha256(b"abc"))
    ]
