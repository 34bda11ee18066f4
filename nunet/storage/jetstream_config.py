"""`storage.jetstream` in the node config: where and how the swarm's object store keeps objects."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Count = Annotated[int, msgspec.Meta(ge=1, le=1024)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class JetStreamStoreConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Buckets are created on first upload with these settings; transfers use the rest."""

    # The JetStream domain holding the buckets: None is the server the client is connected to
    # (a node on its own); "swarm" (nunet.mesh.SWARM_DOMAIN) is the hubs', reachable swarm-wide
    # (the node sets it when it has hubs and the config leaves it out).
    domain: str | None = None
    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1  # copies of each bucket's stream
    storage: Literal["file", "memory"] = "file"
    bucket_max_bytes: Annotated[int, msgspec.Meta(ge=1 << 20)] | None = None  # None: no limit
    ttl_seconds: Annotated[float, msgspec.Meta(gt=0)] | None = None  # objects expire; None: never
    # One chunk is one NATS message; cut to fit the server's max_payload when that is smaller.
    chunk_bytes: Annotated[int, msgspec.Meta(ge=1024, le=8 << 20)] = 256 * 1024
    max_object_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None  # None: no limit
    window_chunks: Count = 16  # upload: chunks published and not yet acknowledged
    fetch_chunks: Count = 8  # download: chunks asked for at once (two batches in memory)
    stall_seconds: Seconds = 10.0  # no progress for this long: the transfer is cut
    resume_attempts: Annotated[int, msgspec.Meta(ge=0, le=100)] = 3  # download restarts
    request_seconds: Seconds = 5.0  # JetStream API calls (bucket, object info, consumer)
