"""Errors of the mesh: the swarm key, the nats-server binary, its configuration and its process."""

from __future__ import annotations

from nunet.errors import NunetError


class MeshError(NunetError):
    """Base of every error the mesh raises on purpose."""


class SwarmKeyError(MeshError):
    """A swarm key file is missing, or is not a valid swarm key; the message names the file."""


class NatsBinaryError(MeshError):
    """The nats-server binary is missing, or is not the pinned release."""


class MeshConfigError(MeshError):
    """A server spec cannot be rendered into a safe configuration (e.g. a plain-text link)."""


class PortInUseError(MeshError):
    """A configured port of the node's server is already taken by another process."""

    def __init__(self, role: str, host: str, port: int, detail: str = "") -> None:
        self.role = role
        self.host = host
        self.port = port
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"the {role} port {host}:{port} of the node's NATS server is already in use{suffix}: "
            f"stop whatever listens there or configure another {role} port (0 lets the server pick)"
        )


class ServerStartError(MeshError):
    """nats-server exited or did not become healthy while starting; the message has its log tail."""
