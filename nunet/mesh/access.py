"""`<home>/mesh.json`: how local tools reach the node's own NATS server (URL, token, domain).

The node writes it (mode 0600) once its server is up, and removes it when it stops; the CLI
reads it to tail replicated logs without going through the node's API.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from nunet.errors import NunetError

SWARM_DOMAIN = "swarm"
"""The JetStream domain of the swarm's hubs, where replicated logs live."""


class MeshAccessError(NunetError):
    """mesh.json is missing or malformed: the node is not running, or not on a mesh."""


class MeshAccess(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_url: str  # nats://127.0.0.1:PORT of the node's own server (or the external cluster)
    token: str | None  # the client token of that server; None for an external cluster
    did: str  # the node's DID
    swarm_domain: str | None = SWARM_DOMAIN  # JetStream domain holding the swarm log
    leaf_url: str | None = None  # hub mode: where other nodes join this one as leaf nodes


def write_mesh_access(path: Path, access: MeshAccess) -> None:
    """Write atomically with mode 0600 (it holds a credential)."""
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(msgspec.json.encode(access))
    os.replace(partial, path)


def read_mesh_access(path: Path) -> MeshAccess:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MeshAccessError(
            f"{path} does not exist: is the node running (nunet run) with its mesh enabled?"
        ) from None
    try:
        return msgspec.json.decode(data, type=MeshAccess)
    except msgspec.DecodeError as exc:
        raise MeshAccessError(f"{path} is malformed: {exc}") from None
