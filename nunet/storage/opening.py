"""Open the node's storage from its config: one `Storage` routing to every configured store.

The swarm's object store rides on a NATS connection: the node passes its own mesh client, and a
local tool (the CLI downloading results) passes the node's `mesh.json` instead, which opens a
connection of its own. Without either, `nunet://` is not served.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from nats.aio.client import Client as NatsClient

from nunet.storage.config import StorageConfig
from nunet.storage.inline import InlineProvider
from nunet.storage.jetstream import JetStreamProvider
from nunet.storage.provider import StorageProvider
from nunet.storage.s3 import S3Provider
from nunet.storage.storage import Storage
from nunet.storage.url import UrlProvider


async def open_storage(
    config: StorageConfig,
    *,
    nats: NatsClient | None = None,
    mesh_access: Path | None = None,
    swarm_domain: str | None = None,
) -> Storage:
    """The stores `config` turns on. `nunet://` uses `nats` (not closed by the storage) or a
    connection to the server `mesh_access` describes; its domain is the config's, else
    `swarm_domain` (the hubs' when the node has any)."""
    providers: list[StorageProvider] = [InlineProvider(max_bytes=config.inline_max_bytes)]
    if config.urls:
        providers.append(UrlProvider(retries=config.attempts))
    if config.s3 is not None:
        providers.append(S3Provider(config.s3))
    store = config.jetstream
    if store.domain is None and swarm_domain is not None:
        store = msgspec.structs.replace(store, domain=swarm_domain)
    if config.swarm and nats is not None:
        providers.append(JetStreamProvider(nats, store))
    elif config.swarm and mesh_access is not None:
        providers.append(await JetStreamProvider.from_mesh_access(mesh_access, store))
    return Storage(providers)
