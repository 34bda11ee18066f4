"""Node configuration: `<home>/config.yaml`, every field checked, errors naming the field."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
import yaml

from nunet.capability.units import UnitError, parse_size
from nunet.contracts.config import ContractsConfig
from nunet.errors import NunetError
from nunet.matching.ranking import DEFAULT_WEIGHTS, RANKERS
from nunet.storage.config import StorageConfig

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class ConfigError(NunetError):
    """The node configuration is wrong; the message names the field."""


class ApiConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Port = 0  # 0: choose a free port; the chosen one is written to <home>/api.json
    socket: bool = True  # also serve on <home>/api.sock


class RateConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    per_sender_per_second: Positive = 200.0
    per_sender_burst: Annotated[int, msgspec.Meta(ge=1)] = 400
    per_topic_per_second: Positive = 1000.0
    per_topic_burst: Annotated[int, msgspec.Meta(ge=1)] = 2000


class LogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    checkpoint_every_records: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    checkpoint_every_seconds: Positive = 60.0
    # sqlite: <home>/log/events.db (the embedded default). postgres: the table nunet_events in
    # the database at postgres_dsn, this node's records under its DID (scale-out).
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn: str | None = None


class SupervisionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Restart intensity of the node's root supervisor."""

    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 5
    period_seconds: Positive = 10.0


class HubConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hub mode: this node's server accepts leaf connections from other nodes."""

    host: str = "127.0.0.1"  # where the leaf listener binds; a public hub binds 0.0.0.0
    port: Port = 0  # 0: chosen by the server and kept across its restarts
    advertise: list[str] = []  # extra host names / addresses put in the TLS certificate


class ClusterConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hubs that route to each other form one NATS cluster: how a swarm scales past one hub."""

    name: str = "nunet"
    host: str = "127.0.0.1"
    port: Port = 0
    routes: list[str] = []  # nats-route://host:port of the other hubs


class ReplicationConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True  # publish this node's log to the swarm stream
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1  # hubs: copies of the stream
    # Hubs: how long and how much of the swarm log the stream keeps (None: no limit).
    retention_days: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_bytes: Annotated[int, msgspec.Meta(ge=1 << 20)] | None = None


class MeshConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the node reaches the swarm.

    embedded: run its own nats-server, joined to the hubs in `bootstrap` as a leaf node (or a hub
    itself with `hub`). external: connect straight to an existing NATS cluster at `external_urls`.
    memory: no network at all (a single node on its own, for tests and offline use).
    """

    mode: Literal["embedded", "external", "memory"] = "embedded"
    hub: HubConfig | None = None
    bootstrap: list[str] = []  # leaf URLs of hubs, e.g. tls://hub.example.org:7422
    swarm_key_file: str | None = None  # a private swarm; None: the open public swarm
    client_port: Port = 0  # the node's own server, on 127.0.0.1
    monitor_port: Port = 0
    cluster: ClusterConfig | None = None
    external_urls: list[str] = []
    external_token: str | None = None
    heartbeat_seconds: Annotated[float, msgspec.Meta(ge=0.05, le=3600)] = 5.0
    bootstrap_timeout_seconds: Positive = 30.0  # a hub not linked by then is reported unreachable
    replication: ReplicationConfig = ReplicationConfig()

    def __post_init__(self) -> None:
        if self.mode == "external" and not self.external_urls:
            raise ConfigError("mesh.external_urls: required when mesh.mode is external")
        if self.mode != "embedded":
            for name in ("hub", "cluster"):
                if getattr(self, name) is not None:
                    raise ConfigError(f"mesh.{name}: only an embedded server can be a hub")
            if self.bootstrap:
                raise ConfigError("mesh.bootstrap: only an embedded server joins hubs")
        if self.cluster is not None and self.hub is None:
            raise ConfigError("mesh.cluster: only hubs form a cluster; set mesh.hub too")
        for index, url in enumerate(self.bootstrap):
            _check_url(f"mesh.bootstrap[{index}]", url, ("nats-leaf", "tls", "nats"))
        for index, url in enumerate(self.external_urls):
            _check_url(f"mesh.external_urls[{index}]", url, ("nats", "tls"))
        if self.cluster is not None:
            for index, url in enumerate(self.cluster.routes):
                _check_url(f"mesh.cluster.routes[{index}]", url, ("nats-route", "nats", "tls"))


class OnboardingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Onboarding and benchmarking of the machine's share."""

    benchmark_budget_seconds: Annotated[float, msgspec.Meta(ge=1, le=240)] = 30.0
    benchmark_on_onboard: bool = True  # benchmark the share after the first onboarding
    ram_headroom: int | str = "512MiB"  # RAM never onboarded: left to the OS and the node

    def __post_init__(self) -> None:
        try:
            parse_size(self.ram_headroom, "onboarding.ram_headroom")
        except UnitError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def ram_headroom_bytes(self) -> int:
        return parse_size(self.ram_headroom, "onboarding.ram_headroom")


class RegistryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Credentials for one private registry, keyed by its host as image references write it."""

    username: str = ""
    password: str = ""
    identity_token: str = ""


class DockerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True  # used when the engine answers at `socket`
    socket: str = "/var/run/docker.sock"
    allow_privileged: bool = False
    registries: dict[str, RegistryConfig] = {}


class MicroVMConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True  # used when its hypervisor and guest kernel are present
    backend: Literal["qemu", "firecracker"] = "qemu"
    kernel_dir: str = "/var/cache/nunet/kernels"  # python -m nunet.executor.microvm.kernel
    accel: Literal["auto", "kvm", "tcg"] = "auto"  # auto: KVM if a bounded probe boots, else TCG
    allow_privileged: bool = False


class ExecutorsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    docker: DockerConfig = DockerConfig()
    microvm: MicroVMConfig = MicroVMConfig()


class IndexConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The node's capability index of the swarm."""

    # true: read every node's replicated log from the swarm stream (the whole swarm's offers);
    # false: index this node's own log only. Following costs CPU in proportion to the whole
    # swarm's log volume, which a devstack of many nodes on one machine cannot afford.
    follow_swarm: bool = True


class MatchingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Search and bids: how this node ranks bids, and whom it bids for."""

    rankers: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS)
    )
    bid_validity_seconds: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    reject_requesters: list[str] = []  # DIDs this node never bids for

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rankers) - set(RANKERS))
        if unknown:
            raise ConfigError(
                f"matching.rankers: unknown ranker {', '.join(unknown)}; "
                f"known: {', '.join(sorted(RANKERS))}"
            )


def _check_url(field: str, url: str, schemes: tuple[str, ...]) -> None:
    parsed = urlsplit(url)
    if parsed.scheme not in schemes:
        raise ConfigError(
            f"{field}: {url!r} must start with one of {', '.join(s + '://' for s in schemes)}"
        )
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError(f"{field}: {url!r} has an invalid port") from None
    if not parsed.hostname or port is None:
        raise ConfigError(f"{field}: {url!r} must name a host and a port")


class OrchestratorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How this node's orchestrators deploy: bid rounds, commits, heartbeats, queueing."""

    bid_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = (
        2.0  # a healthy swarm ends it sooner: once every live node answered
    )
    commit_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    hold_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0  # a commit's reservation
    heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 1.0
    missed_heartbeats: Annotated[int, msgspec.Meta(ge=2, le=100)] = 4  # then the machine is lost
    queue_timeout_seconds: Annotated[float, msgspec.Meta(ge=0, le=30 * 86_400)] = 300.0


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node_key: str = "dms"
    user_key: str = "user"
    api: ApiConfig = ApiConfig()
    rate_limits: RateConfig = RateConfig()
    log: LogConfig = LogConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    mesh: MeshConfig = MeshConfig()
    onboarding: OnboardingConfig = OnboardingConfig()
    matching: MatchingConfig = MatchingConfig()
    index: IndexConfig = IndexConfig()
    orchestrator: OrchestratorConfig = OrchestratorConfig()
    executors: ExecutorsConfig = ExecutorsConfig()
    storage: StorageConfig = StorageConfig()
    contracts: ContractsConfig = ContractsConfig()
    max_envelope_bytes: Annotated[int, msgspec.Meta(ge=1024, le=64 << 20)] = 1 << 20
    clock_skew_seconds: Positive = 30.0

    def __post_init__(self) -> None:
        if self.log.store == "postgres" and not self.log.postgres_dsn:
            raise ConfigError("log.postgres_dsn: required when log.store is postgres")
        try:
            address = ipaddress.ip_address(self.api.host)
        except ValueError:
            raise ConfigError(f"api.host: {self.api.host!r} is not an IP address") from None
        if not address.is_loopback:
            raise ConfigError(
                f"api.host: {self.api.host} is not a loopback address; the local API only "
                "answers this machine (use 127.0.0.1 or ::1)"
            )


def load_config(path: Path) -> NodeConfig:
    """Read the YAML config at `path`; a missing file gives the defaults."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return NodeConfig()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: object, *, source: str = "config") -> NodeConfig:
    try:
        return msgspec.convert(raw, NodeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_field_message(exc)}") from None
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _field_message(exc: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.api.port`"; users think in dotted paths without the `$.`.
    text = str(exc)
    if " - at `$." in text:
        message, _, path = text.partition(" - at `$.")
        return f"{path.rstrip('`')}: {message}"
    return text
