"""Events the node's NATS server produces: its lifecycle, its leaf links, and refused intruders."""

from __future__ import annotations

from typing import ClassVar

from nunet.eventlog import Event


class MeshServerStarted(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "mesh.server_started"
    server: str
    pid: int
    client_url: str
    leaf_url: str | None  # hub mode only


class MeshServerExited(Event, frozen=True, kw_only=True):
    """The server process ended; `expected` is False for a crash (supervision restarts it)."""

    TYPE: ClassVar[str] = "mesh.server_exited"
    server: str
    pid: int
    returncode: int
    expected: bool
    last_log: str


class MeshServerRestarted(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "mesh.server_restarted"
    server: str
    pid: int
    recent_restarts: int


class MeshServerUnhealthy(Event, frozen=True, kw_only=True):
    """/healthz failed repeatedly; the server is killed so supervision restarts it."""

    TYPE: ClassVar[str] = "mesh.server_unhealthy"
    server: str
    pid: int
    error: str


class MeshServerGaveUp(Event, frozen=True, kw_only=True):
    """The server crashed more often than the restart intensity allows; it stays down."""

    TYPE: ClassVar[str] = "mesh.server_gave_up"
    server: str
    restarts: int
    window_s: float
    last_log: str


class LeafLinkConnected(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "mesh.leaf_connected"
    server: str
    remote_name: str
    address: str


class LeafLinkDisconnected(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "mesh.leaf_disconnected"
    server: str
    remote_name: str
    address: str
    reason: str


class MeshLinkRejected(Event, frozen=True, kw_only=True):
    """A leaf or route connection was refused: it is not of this swarm (or this node not of its).

    `cause` is tls-certificate (not signed by this swarm's CA), tls-handshake (not TLS, or cut
    short) or authorization (a swarm certificate without the swarm's password). Repeated attempts
    from one host are reported once a minute; `repeats` counts those not reported in between.
    """

    TYPE: ClassVar[str] = "mesh.link_rejected"
    server: str
    link: str  # leaf or route
    address: str
    cause: str
    detail: str
    repeats: int


class BootstrapUnreachable(Event, frozen=True, kw_only=True):
    """A hub this node dials has not become a leaf link in time; the node serves on and retries."""

    TYPE: ClassVar[str] = "mesh.bootstrap_unreachable"
    server: str
    url: str  # without credentials
    waited_s: float
    last_error: str


EVENTS: tuple[type[Event], ...] = (
    MeshServerStarted,
    MeshServerExited,
    MeshServerRestarted,
    MeshServerUnhealthy,
    MeshServerGaveUp,
    LeafLinkConnected,
    LeafLinkDisconnected,
    MeshLinkRejected,
    BootstrapUnreachable,
)
