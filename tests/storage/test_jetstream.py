"""The swarm store on a real nats-server with JetStream (file storage), through a cutting relay.

The contract suite runs against it, then what is particular to JetStream: objects survive a
server restart, a server killed mid-download interrupts cleanly, memory stays bounded by the
configured batches, what nats-py's own object store writes is read and the other way round, and
bucket creation follows the config.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.js import api

from nunet.mesh import MeshAccess, write_mesh_access
from nunet.storage.jetstream import JetStreamProvider
from nunet.storage.jetstream_config import JetStreamStoreConfig
from nunet.storage.jetstream_names import digest_checksum, digest_text, parse_mtime
from nunet.storage.provider import (
    AccessDenied,
    BadLocation,
    Checksum,
    NotFound,
    Progress,
    TransferInterrupted,
)
from tests.storage.contract import (
    MIB,
    StorageContract,
    StoreUnderTest,
    file_sha256,
    heap_peak,
    names_in,
    write_large,
)
from tests.storage.relay import Relay
from tests.support.nats import NatsProcess, nats_server

# Short stalls so a cut is noticed in about a second; everything else as in production.
TEST_CONFIG = JetStreamStoreConfig(stall_seconds=1.0, resume_attempts=2, request_seconds=2.0)


class JetStreamStore(StoreUnderTest):
    def __init__(
        self, provider: JetStreamProvider, relay: Relay, direct: NatsClient, server: NatsProcess
    ) -> None:
        self.provider = provider
        self.relay = relay
        self.direct = direct  # nats-py straight to the server, bypassing provider and relay
        self.server = server
        self.bucket = f"t{uuid.uuid4().hex[:12]}"

    def location(self, key: str) -> str:
        return f"nunet://{self.bucket}/{key}"

    async def put(self, key: str, data: bytes | Path) -> str:
        js = self.direct.jetstream()
        store = await js.create_object_store(self.bucket)
        if isinstance(data, bytes):
            await store.put(key, data)
        else:
            with data.open("rb") as f:
                await store.put(key, f)
        return self.location(key)


@contextlib.asynccontextmanager
async def open_store(
    server: NatsProcess, config: JetStreamStoreConfig = TEST_CONFIG
) -> AsyncIterator[JetStreamStore]:
    relay = await Relay("127.0.0.1", server.client_port).start()
    provider = await JetStreamProvider.connect(
        f"nats://{relay.address}", config=config, reconnect_seconds=0.05
    )
    direct = await nats.connect(server.url)
    try:
        yield JetStreamStore(provider, relay, direct, server)
    finally:
        await provider.close()
        await direct.close()
        await relay.close()


@pytest.fixture
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsProcess]:
    # Outside tmp_path: the contract checks that nothing but what it expects is there.
    async with nats_server(tmp_path_factory.mktemp("nats")) as started:
        yield started


class TestJetStreamContract(StorageContract):
    supports_resume = True

    @pytest.fixture
    async def store(self, server: NatsProcess) -> AsyncIterator[StoreUnderTest]:
        async with open_store(server) as opened:
            yield opened


@pytest.fixture
async def js_store(server: NatsProcess) -> AsyncIterator[JetStreamStore]:
    async with open_store(server) as opened:
        yield opened


async def upload_bytes(store: JetStreamStore, key: str, data: bytes, tmp: Path) -> str:
    source = tmp / f"src-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    source.write_bytes(data)
    location = store.location(key)
    await store.provider.upload(source, location)
    return location


async def test_objects_survive_a_server_restart(js_store: JetStreamStore, tmp_path: Path) -> None:
    data = os.urandom(700_000)
    location = await upload_bytes(js_store, "kept/across-restart", data, tmp_path)
    await js_store.server.restart()
    moved = await js_store.provider.download(location, tmp_path / "after")
    assert (tmp_path / "after").read_bytes() == data
    assert moved.objects[0].checksum == Checksum("sha256", hashlib.sha256(data).hexdigest())


async def test_a_server_killed_mid_download_interrupts_with_no_partial_file(
    server: NatsProcess, tmp_path: Path
) -> None:
    # Small batches: what was in flight when the server died is far less than the object.
    config = JetStreamStoreConfig(
        stall_seconds=1.0, resume_attempts=1, request_seconds=1.0, fetch_chunks=4
    )
    async with open_store(server, config) as store:
        source = tmp_path / "big"
        write_large(source, 16 * MIB)
        location = await store.provider.upload(source, store.location("big"))
        target_dir = tmp_path / "down"
        killed: list[Progress] = []

        def kill_on_first_bytes(progress: Progress) -> None:
            if progress.done > 0 and not killed and server.process is not None:
                os.kill(server.process.pid, signal.SIGKILL)
                killed.append(progress)

        with pytest.raises(TransferInterrupted) as raised:
            await store.provider.download(
                location.objects[0].location, target_dir / "big", progress=kill_on_first_bytes
            )
        assert killed
        assert killed[0].done < 16 * MIB
        assert raised.value.retryable
        assert store.location("big") in str(raised.value)
        assert names_in(target_dir) == []
        # The server comes back with the object on disk: the retry succeeds.
        await server.restart()
        await store.provider.download(store.location("big"), target_dir / "big")
        assert file_sha256(target_dir / "big") == file_sha256(source)


async def test_memory_is_bounded_by_the_configured_window_and_batches(
    server: NatsProcess, tmp_path: Path
) -> None:
    # 64 MiB moved with 8-chunk windows of 128 KiB: a few MiB at most are held at once.
    config = JetStreamStoreConfig(stall_seconds=5.0, window_chunks=8, fetch_chunks=8)
    async with open_store(server, config) as store:
        source = tmp_path / "large"
        expected = write_large(source, 64 * MIB)
        with heap_peak() as up:
            await store.provider.upload(source, store.location("large"))
        source.unlink()
        with heap_peak() as down:
            moved = await store.provider.download(store.location("large"), tmp_path / "copy")
        assert moved.objects[0].checksum == expected
        assert up[0] < 8 * MIB, f"upload heap grew {up[0]} bytes"
        assert down[0] < 8 * MIB, f"download heap grew {down[0]} bytes"


async def test_nats_py_reads_what_the_provider_wrote(
    js_store: JetStreamStore, tmp_path: Path
) -> None:
    data = os.urandom(1_000_003)
    await upload_bytes(js_store, "interop/out.bin", data, tmp_path)
    store = await js_store.direct.jetstream().object_store(js_store.bucket)
    sink = io.BytesIO()
    result = await store.get("interop/out.bin", writeinto=sink)  # verifies the digest too
    assert sink.getvalue() == data
    assert result.info.size == len(data)


async def test_a_replaced_object_keeps_only_its_new_chunks(
    js_store: JetStreamStore, tmp_path: Path
) -> None:
    location = await upload_bytes(js_store, "again", os.urandom(400_000), tmp_path)
    before = await js_store.direct.jetstream().stream_info(f"OBJ_{js_store.bucket}")
    await upload_bytes(js_store, "again", b"short now", tmp_path)
    after = await js_store.direct.jetstream().stream_info(f"OBJ_{js_store.bucket}")
    assert after.state.bytes < before.state.bytes / 10
    await js_store.provider.download(location, tmp_path / "again")
    assert (tmp_path / "again").read_bytes() == b"short now"


async def test_the_first_upload_creates_the_bucket_as_configured(
    server: NatsProcess, tmp_path: Path
) -> None:
    config = JetStreamStoreConfig(storage="memory", bucket_max_bytes=8 * MIB, ttl_seconds=3600)
    async with open_store(server, config) as store:
        await upload_bytes(store, "made", b"x", tmp_path)
        stream = await store.direct.jetstream().stream_info(f"OBJ_{store.bucket}")
        assert stream.config.storage == api.StorageType.MEMORY
        assert stream.config.max_bytes == 8 * MIB
        assert stream.config.max_age == 3600
        assert stream.config.num_replicas == 1


async def test_a_missing_bucket_is_not_found_and_lists_nothing(
    js_store: JetStreamStore, tmp_path: Path
) -> None:
    location = "nunet://no-such-bucket/key"
    with pytest.raises(NotFound) as raised:
        await js_store.provider.download(location, tmp_path / "x")
    assert location in str(raised.value)
    assert "bucket" in str(raised.value)
    assert [o async for o in js_store.provider.list("nunet://no-such-bucket/")] == []
    await js_store.provider.delete(location)  # nothing to delete is no error
    assert names_in(tmp_path) == []


class TokenServer(NatsProcess):
    def config(self) -> str:
        return super().config() + 'authorization { token: "right-token" }\n'


async def test_a_wrong_token_is_access_denied(tmp_path: Path) -> None:
    server = TokenServer("token", tmp_path / "token", jetstream_domain="hub")
    await server.start()
    try:
        with pytest.raises(AccessDenied) as raised:
            await JetStreamProvider.connect(server.url, token="wrong-token", config=TEST_CONFIG)
        assert server.url in str(raised.value)
        provider = await JetStreamProvider.connect(
            server.url, token="right-token", config=TEST_CONFIG
        )
        await provider.upload(_file(tmp_path, b"ok"), "nunet://tok/ok")
        assert await provider.size("nunet://tok/ok") == 2
        await provider.close()
    finally:
        await server.stop()


def _file(directory: Path, data: bytes) -> Path:
    path = directory / "file"
    path.write_bytes(data)
    return path


async def test_a_node_mesh_access_file_connects_the_provider(
    server: NatsProcess, tmp_path: Path
) -> None:
    access = tmp_path / "mesh.json"
    write_mesh_access(access, MeshAccess(client_url=server.url, token=None, did="did:key:zTest"))
    provider = await JetStreamProvider.from_mesh_access(access, TEST_CONFIG)
    try:
        await provider.upload(_file(tmp_path, b"via mesh.json"), "nunet://mesh/file")
        assert await provider.size("nunet://mesh/file") == len(b"via mesh.json")
    finally:
        await provider.close()


# --- the pure mapping onto the object store's formats ---


@given(st.binary(min_size=32, max_size=32))
def test_digest_text_round_trips_to_a_sha256_checksum(raw: bytes) -> None:
    checksum = digest_checksum(digest_text(raw))
    assert checksum == Checksum("sha256", raw.hex())


@pytest.mark.parametrize("text", [None, "", "MD5=abc", "SHA-256=not base64!", "SHA-256=" + "A" * 8])
def test_an_unusable_digest_is_none(text: str | None) -> None:
    assert digest_checksum(text) is None


def test_modification_times_in_go_and_python_formats_parse() -> None:
    assert parse_mtime("2024-05-01T12:00:00.123456789Z") == pytest.approx(1714564800.123456)
    assert parse_mtime("2024-05-01T12:00:00+00:00") == 1714564800.0
    assert parse_mtime("") == 0.0
    assert parse_mtime("yesterday") == 0.0


async def test_a_file_uploaded_to_a_prefix_keeps_its_name(
    js_store: JetStreamStore, tmp_path: Path
) -> None:
    source = tmp_path / "result.csv"
    source.write_bytes(b"a,b\n1,2\n")
    moved = await js_store.provider.upload(source, js_store.location("results/"))
    assert [o.location for o in moved.objects] == [js_store.location("results/result.csv")]
    assert await js_store.provider.size(js_store.location("results/result.csv")) == 8


async def test_a_stored_key_that_climbs_out_is_refused_and_nothing_is_written(
    js_store: JetStreamStore, tmp_path: Path
) -> None:
    # Another NATS client can store any name; the provider never turns it into a path outside.
    await js_store.put("in/../../escaped", b"payload")
    target = tmp_path / "inside" / "target"
    with pytest.raises(BadLocation) as raised:
        await js_store.provider.download(js_store.location("in/"), target)
    assert ".." in str(raised.value)
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "inside" / "escaped").exists()
    assert names_in(target) == []


class SmallPayloadServer(NatsProcess):
    def config(self) -> str:
        return super().config() + "max_payload: 65536\n"


async def test_chunks_shrink_to_fit_a_server_with_a_small_max_payload(tmp_path: Path) -> None:
    server = SmallPayloadServer("small", tmp_path / "small", jetstream_domain="hub")
    await server.start()
    try:
        provider = await JetStreamProvider.connect(server.url, config=TEST_CONFIG)
        assert provider.config.chunk_bytes < 65536
        data = os.urandom(300_000)
        await provider.upload(_file(tmp_path, data), "nunet://small/object")
        await provider.download("nunet://small/object", tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == data
        await provider.close()
    finally:
        await server.stop()
