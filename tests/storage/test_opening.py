"""The node's storage as its config opens it: which schemes are served, and bad config named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import nats
import pytest

from nunet.mesh.access import MeshAccess, write_mesh_access
from nunet.node import ConfigError, parse_config
from nunet.storage import BadLocation, JetStreamProvider
from nunet.storage.config import StorageConfig
from nunet.storage.opening import open_storage
from tests.support.nats import NatsProcess, nats_server


@pytest.fixture
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsProcess]:
    async with nats_server(tmp_path_factory.mktemp("nats")) as started:
        yield started


async def test_by_default_every_store_but_the_swarms_is_served_without_a_mesh() -> None:
    async with await open_storage(StorageConfig()) as storage:
        assert storage.schemes == ("http", "https", "inline", "s3")
        with pytest.raises(BadLocation, match=r"this node has no store for nunet: \(configured"):
            storage.provider_for("nunet://results/x")


async def test_stores_turned_off_are_not_served() -> None:
    config = StorageConfig(s3=None, urls=False)
    async with await open_storage(config) as storage:
        assert storage.schemes == ("inline",)


async def test_the_swarm_store_rides_the_given_connection_in_the_swarm_domain(
    server: NatsProcess,
) -> None:
    client = await nats.connect(server.url)
    try:
        async with await open_storage(
            StorageConfig(), nats=client, swarm_domain="swarm"
        ) as storage:
            store = storage.provider_for("nunet://results/x")
            assert isinstance(store, JetStreamProvider)
            assert store.config.domain == "swarm"
        assert client.is_connected  # the node's connection is not the storage's to close
        own = msgspec.structs.replace(StorageConfig().jetstream, domain="mine")
        config = StorageConfig(jetstream=own)
        async with await open_storage(config, nats=client, swarm_domain="swarm") as storage:
            store = storage.provider_for("nunet://results/x")
            assert isinstance(store, JetStreamProvider)
            assert store.config.domain == "mine"  # the config's own domain wins
    finally:
        await client.close()


async def test_a_local_tool_reaches_the_swarm_store_through_mesh_json(
    server: NatsProcess, tmp_path: Path
) -> None:
    access = tmp_path / "mesh.json"
    write_mesh_access(
        access, MeshAccess(client_url=server.url, token=None, did="did:key:z", swarm_domain="swarm")
    )
    async with await open_storage(StorageConfig(), mesh_access=access) as storage:
        assert "nunet" in storage.schemes


@pytest.mark.parametrize(
    ("storage", "said"),
    [
        ({"s3": {"endpoint": "ftp://x"}}, "storage.s3.endpoint 'ftp://x' is not a URL"),
        ({"s3": {"access_key": "a"}}, "storage.s3.access_key is set but storage.s3.secret_key"),
        ({"output_max_bytes": 0}, "storage.output_max_bytes"),
        ({"attempts": 0}, "storage.attempts"),
        ({"jetstream": {"storage": "tape"}}, "storage.jetstream.storage"),
        ({"volumes": "/x"}, "storage: Object contains unknown field `volumes`"),
    ],
)
def test_a_bad_storage_section_is_refused_naming_the_field(
    storage: dict[str, object], said: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"storage": storage})
    assert said in str(refused.value), str(refused.value)
