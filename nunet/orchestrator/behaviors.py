"""The node's deployment behaviors (`/dms/node/deployment/...`) and what they take."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nunet.allocation.protocol import DEPLOYMENTS_ACTOR_ID

__all__ = ["DEPLOYMENTS_ACTOR_ID"]  # defined with the protocol: providers ask it too

NEW_BEHAVIOR = "/dms/node/deployment/new"
LIST_BEHAVIOR = "/dms/node/deployment/list"
STATUS_BEHAVIOR = "/dms/node/deployment/status"
MANIFEST_BEHAVIOR = "/dms/node/deployment/manifest"
LOGS_BEHAVIOR = "/dms/node/deployment/logs"
HISTORY_BEHAVIOR = "/dms/node/deployment/history"
SHUTDOWN_BEHAVIOR = "/dms/node/deployment/shutdown"
RESULTS_BEHAVIOR = "/dms/node/deployment/results"

MAX_ENSEMBLE_BYTES = 1 << 20
TERMINAL_STATES = frozenset(("completed", "failed", "shut_down", "expired"))

DeploymentIdText = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=30 * 86_400)]


def orchestrator_actor_id(deployment: str) -> str:
    return f"orchestrator/{deployment}"


def is_settled(state: str, *, services: bool) -> bool:
    """Whether a follower may stop watching: the deployment ended, or it is all up and has
    services (which run until shut down)."""
    return state in TERMINAL_STATES or (services and state == "running")


class NewDeployment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`ensemble`: the document's text (YAML or JSON) or an already parsed mapping. `id`: the
    caller's own id, which makes resubmission idempotent. `queue_timeout`: how long to wait for
    machines that fit (None: the node's default)."""

    ensemble: str | dict[str, object]
    source: Annotated[str, msgspec.Meta(max_length=256)] = "<request>"
    id: DeploymentIdText | None = None
    queue_timeout: Seconds | None = None


class DeploymentAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    deployment: str


class HistoryAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    deployment: str
    after: Annotated[int, msgspec.Meta(ge=0)] = 0  # entries already seen


class LogsAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    deployment: str
    allocation: str | None = None
    since: dict[str, float] = {}  # allocation -> the newest line's time already seen
    limit: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
