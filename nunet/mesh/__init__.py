"""The mesh: each node's embedded NATS server, the private swarm's key and certificates."""

from nunet.mesh.access import (
    SWARM_DOMAIN,
    MeshAccess,
    MeshAccessError,
    read_mesh_access,
    write_mesh_access,
)

__all__ = [
    "SWARM_DOMAIN",
    "MeshAccess",
    "MeshAccessError",
    "read_mesh_access",
    "write_mesh_access",
]
