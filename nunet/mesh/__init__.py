"""The mesh: each node's embedded NATS server, the private swarm's key and certificates."""

from nunet.mesh.access import (
    SWARM_DOMAIN,
    MeshAccess,
    MeshAccessError,
    read_mesh_access,
    write_mesh_access,
)
from nunet.mesh.binary import NATS_SERVER_VERSION, locate_nats_server, verify_nats_server
from nunet.mesh.errors import (
    MeshConfigError,
    MeshError,
    NatsBinaryError,
    PortInUseError,
    ServerStartError,
    SwarmKeyError,
)
from nunet.mesh.events import EVENTS
from nunet.mesh.monitor import LeafLink, MonitorUnavailable
from nunet.mesh.server import NatsServer, SupervisionSettings
from nunet.mesh.server_config import ClusterSpec, LeafListen, ServerSpec, render_config
from nunet.mesh.swarmkey import SWARM_KEY_FILE, Credentials, SwarmKey
from nunet.mesh.tls import SwarmCA, TlsFiles, issue_node_tls

__all__ = [
    "EVENTS",
    "NATS_SERVER_VERSION",
    "SWARM_DOMAIN",
    "SWARM_KEY_FILE",
    "ClusterSpec",
    "Credentials",
    "LeafLink",
    "LeafListen",
    "MeshAccess",
    "MeshAccessError",
    "MeshConfigError",
    "MeshError",
    "MonitorUnavailable",
    "NatsBinaryError",
    "NatsServer",
    "PortInUseError",
    "ServerSpec",
    "ServerStartError",
    "SupervisionSettings",
    "SwarmCA",
    "SwarmKey",
    "SwarmKeyError",
    "TlsFiles",
    "issue_node_tls",
    "locate_nats_server",
    "read_mesh_access",
    "render_config",
    "verify_nats_server",
    "write_mesh_access",
]
