"""`storage` in the node config: which stores this node reaches, where volumes live, the limits.

Every section has working defaults: `s3://` through the standard AWS chain, `nunet://` on the
swarm's JetStream object store, `http(s)://` downloads and `inline:` literals, volumes under
`<home>/volumes`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from nunet.storage.jetstream_config import JetStreamStoreConfig
from nunet.storage.s3_config import S3Config

Size = Annotated[int, msgspec.Meta(ge=1)]

GIB = 1 << 30


class StorageConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`s3: null` or `swarm: false` or `urls: false` turns that store off on this node (an
    ensemble naming it is then refused with the stores this node has)."""

    volume_dir: str | None = None  # where inputs and outputs are kept; None: <home>/volumes
    s3: S3Config | None = S3Config()
    swarm: bool = True  # nunet:// on the JetStream object store (not with mesh mode memory)
    jetstream: JetStreamStoreConfig = JetStreamStoreConfig()
    urls: bool = True  # http:// and https:// downloads
    inline_max_bytes: Size = 1 << 20  # the largest inline: input
    input_max_bytes: Size | None = None  # the most one input may bring; None: no limit
    output_max_bytes: Size = GIB  # the most one allocation's outputs may hold, all together
    attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3  # tries of a transfer that was cut
    retry_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 1.0  # first pause, doubling
