"""Node configuration: `<home>/config.yaml`, every field checked, errors naming the field."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import yaml

from nunet.errors import NunetError

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


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node_key: str = "dms"
    user_key: str = "user"
    api: ApiConfig = ApiConfig()
    rate_limits: RateConfig = RateConfig()
    log: LogConfig = LogConfig()
    supervision: SupervisionConfig = SupervisionConfig()
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
