"""What the node's nats-server is (a frozen spec) and the config file it becomes (a pure function).

Every server-to-server link the spec allows (leaf connections, cluster routes) is TLS with the
swarm's certificates verified on both sides plus the swarm's derived password; a spec asking for a
link without them is refused, so a plain-text link cannot be configured by mistake.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nunet.mesh.errors import MeshConfigError
from nunet.mesh.swarmkey import Credentials
from nunet.mesh.tls import TlsFiles

DEFAULT_MAX_PAYLOAD = 1 << 20
TLS_TIMEOUT_S = 2.0  # nats' 0.5 s default is too tight for a loaded machine doing a handshake
AUTH_TIMEOUT_S = 2.0
LEAF_RECONNECT = "1s"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_LEAF_SCHEMES = ("nats-leaf", "nats", "tls")
_ROUTE_SCHEMES = ("nats-route", "nats", "tls")


@dataclass(frozen=True)
class LeafListen:
    """Hub mode: accept leaf connections from members on host:port (0: the server picks)."""

    host: str = "0.0.0.0"
    port: int = 0
    advertise: str | None = None  # host:port members dial, when it differs from host:port


@dataclass(frozen=True)
class ClusterSpec:
    """Hubs of one swarm routing to each other, to scale past one hub."""

    name: str
    host: str = "0.0.0.0"
    port: int = 0
    routes: tuple[str, ...] = ()  # nats-route://host:port of the other hubs
    advertise: str | None = None


@dataclass(frozen=True)
class ServerSpec:
    """Everything the node decides about its own nats-server; rendered by `render_config`."""

    name: str
    directory: Path
    client_token: str
    jetstream_domain: str
    host: str = "127.0.0.1"
    client_port: int = 0  # 0: the server picks, and the pick is kept across restarts
    monitor_port: int = 0
    leaf_listen: LeafListen | None = None
    remotes: tuple[str, ...] = ()  # leaf URLs of hubs; one leaf connection each
    cluster: ClusterSpec | None = None
    tls: TlsFiles | None = None
    leaf_credentials: Credentials | None = None
    route_credentials: Credentials | None = None
    max_payload: int = DEFAULT_MAX_PAYLOAD

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise MeshConfigError(f"server name {self.name!r} must be letters, digits, _ . -")
        if not _NAME.match(self.jetstream_domain):
            raise MeshConfigError(
                f"JetStream domain {self.jetstream_domain!r} must be letters, digits, _ . -"
            )
        if not self.client_token:
            raise MeshConfigError(f"server {self.name}: the client token must not be empty")
        ports = {"client": self.client_port, "monitor": self.monitor_port}
        if self.leaf_listen is not None:
            ports["leafnode"] = self.leaf_listen.port
        if self.cluster is not None:
            ports["cluster"] = self.cluster.port
        for role, port in ports.items():
            if not 0 <= port <= 65535:
                raise MeshConfigError(f"server {self.name}: {role} port {port} is not 0..65535")
        if not 0 < self.max_payload <= 64 << 20:
            raise MeshConfigError(f"max_payload {self.max_payload} is not within 1 B..64 MiB")
        leafs = self.leaf_listen is not None or bool(self.remotes)
        if (leafs or self.cluster is not None) and self.tls is None:
            raise MeshConfigError(
                f"server {self.name}: leaf and cluster links need the swarm's TLS files "
                "(nunet.mesh.issue_node_tls); plain-text links are not allowed"
            )
        if leafs and self.leaf_credentials is None:
            raise MeshConfigError(f"server {self.name}: leaf links need the swarm's credentials")
        if self.cluster is not None and self.route_credentials is None:
            raise MeshConfigError(f"server {self.name}: cluster routes need the route credentials")
        for url in self.remotes:
            _check_url(url, _LEAF_SCHEMES, "leaf remote")
        if self.cluster is not None and not self.cluster.routes:
            raise MeshConfigError(
                f"cluster {self.cluster.name!r} needs routes: list every hub's route URL, this "
                "one's included (nats skips its own); JetStream refuses a cluster without routes"
            )
        for url in self.cluster.routes if self.cluster else ():
            _check_url(url, _ROUTE_SCHEMES, "cluster route")

    @property
    def config_file(self) -> Path:
        return self.directory / "nats-server.conf"

    @property
    def store_dir(self) -> Path:
        return self.directory / "jetstream"

    def with_remote(self, url: str) -> ServerSpec:
        if url in self.remotes:
            return self
        return dataclasses.replace(self, remotes=(*self.remotes, url))

    def with_ports(
        self, client: int, monitor: int, leaf: int | None = None, cluster: int | None = None
    ) -> ServerSpec:
        """The same spec pinned to the ports a server actually chose (kept across restarts)."""
        leaf_listen = self.leaf_listen
        if leaf_listen is not None and leaf is not None:
            leaf_listen = dataclasses.replace(leaf_listen, port=leaf)
        cluster_spec = self.cluster
        if cluster_spec is not None and cluster is not None:
            cluster_spec = dataclasses.replace(cluster_spec, port=cluster)
        return dataclasses.replace(
            self,
            client_port=client,
            monitor_port=monitor,
            leaf_listen=leaf_listen,
            cluster=cluster_spec,
        )


def render_config(spec: ServerSpec) -> str:
    """The nats-server config file for `spec` (it holds secrets: write it with mode 0600)."""
    lines = [
        f"# written by nunet for node server {spec.name}; rewritten on every start",
        f"server_name: {_q(spec.name)}",
        f"listen: {_q(_address(spec.host, spec.client_port))}",
        f"http: {_q(_address(spec.host, spec.monitor_port))}",
        f"ports_file_dir: {_q(str(spec.directory))}",
        f"max_payload: {spec.max_payload}",
        f"authorization {{ token: {_q(spec.client_token)}, timeout: {AUTH_TIMEOUT_S} }}",
        f"jetstream {{ store_dir: {_q(str(spec.store_dir))}, domain: {_q(spec.jetstream_domain)} }}",
    ]
    if spec.leaf_listen is not None or spec.remotes:
        lines += _leafnodes(spec)
    if spec.cluster is not None:
        lines += _cluster(spec, spec.cluster)
    return "\n".join(lines) + "\n"


def _leafnodes(spec: ServerSpec) -> list[str]:
    # both checked by the spec
    assert spec.tls is not None
    assert spec.leaf_credentials is not None
    lines = ["leafnodes {", f"  reconnect: {_q(LEAF_RECONNECT)}"]
    if spec.leaf_listen is not None:
        listen = spec.leaf_listen
        lines.append(f"  listen: {_q(_address(listen.host, listen.port))}")
        if listen.advertise:
            lines.append(f"  advertise: {_q(listen.advertise)}")
        lines.append(f"  tls {_tls(spec.tls, verify=True)}")
        lines.append(f"  authorization {_credentials(spec.leaf_credentials)}")
    if spec.remotes:
        lines.append("  remotes: [")
        for url in spec.remotes:
            dial = with_credentials(url, spec.leaf_credentials)
            lines.append(f"    {{ url: {_q(dial)}, tls {_tls(spec.tls, verify=False)} }}")
        lines.append("  ]")
    lines.append("}")
    return lines


def _cluster(spec: ServerSpec, cluster: ClusterSpec) -> list[str]:
    # both checked by the spec
    assert spec.tls is not None
    assert spec.route_credentials is not None
    lines = [
        "cluster {",
        f"  name: {_q(cluster.name)}",
        f"  listen: {_q(_address(cluster.host, cluster.port))}",
    ]
    if cluster.advertise:
        lines.append(f"  advertise: {_q(cluster.advertise)}")
    routes = ", ".join(_q(with_credentials(u, spec.route_credentials)) for u in cluster.routes)
    lines += [
        f"  routes: [{routes}]",
        f"  tls {_tls(spec.tls, verify=True)}",
        f"  authorization {_credentials(spec.route_credentials)}",
        "}",
    ]
    return lines


def _tls(files: TlsFiles, *, verify: bool) -> str:
    # An accepting side with verify demands a swarm certificate from whoever dials in; a dialling
    # side always verifies the one it is shown against the swarm CA (and the name it dialled).
    parts = [
        f"ca_file: {_q(str(files.ca_file))}",
        f"cert_file: {_q(str(files.cert_file))}",
        f"key_file: {_q(str(files.key_file))}",
        f"timeout: {TLS_TIMEOUT_S}",
    ]
    if verify:
        parts.append("verify: true")
    return "{ " + ", ".join(parts) + " }"


def _credentials(credentials: Credentials) -> str:
    return (
        f"{{ user: {_q(credentials.user)}, password: {_q(credentials.password)}, "
        f"timeout: {AUTH_TIMEOUT_S} }}"
    )


def with_credentials(url: str, credentials: Credentials) -> str:
    """`url` carrying `credentials` as its user info (their alphabet needs no escaping)."""
    parts = urlsplit(url)
    netloc = f"{credentials.user}:{credentials.password}@{parts.netloc.rpartition('@')[2]}"
    return parts._replace(netloc=netloc).geturl()


def redact(url: str) -> str:
    """`url` without user info, safe to log."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _check_url(url: str, schemes: tuple[str, ...], what: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MeshConfigError(f"{what} {redact(url)!r} is not a URL: {exc}") from None
    if parts.scheme not in schemes or not parts.hostname or port is None:
        raise MeshConfigError(f"{what} {redact(url)!r} must look like {schemes[0]}://HOST:PORT")


def _address(host: str, port: int) -> str:
    # nats-server reads port 0 as "the default port"; -1 is its "pick a free one".
    shown = -1 if port == 0 else port
    return f"[{host}]:{shown}" if ":" in host else f"{host}:{shown}"


def _q(value: str) -> str:
    return json.dumps(value)
