"""What a devstack consists of: the homes and configs of a hub and its member nodes (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from nunet.node.config import OrchestratorConfig

HUB = "hub"


@dataclass(frozen=True)
class NodePlan:
    name: str  # "hub", "node1", ...
    home: Path

    @property
    def is_hub(self) -> bool:
        return self.name == HUB


@dataclass(frozen=True)
class StackPlan:
    """A hub and `members` nodes under `directory`, all in one swarm."""

    directory: Path
    members: int
    heartbeat_seconds: float = 1.0
    private: bool = True  # a generated swarm key; False: the open public swarm
    hub_port: int = 0  # the hub's leaf port; fixed so that a restarted hub is found again
    # Every node of a devstack shares one machine: benchmarking each share after onboarding
    # would measure the same cores N times over, concurrently. Off unless asked for.
    benchmark_on_onboard: bool = False
    # Likewise, N nodes each reading every node's replicated log would cost N times the swarm's
    # log volume on one machine: the hub keeps the swarm's capability index, members their own.
    member_indexes: bool = False
    # How every node orchestrates: a test that loses a machine wants heartbeats fast enough to
    # notice in seconds (`orchestrator.heartbeat_seconds` x `missed_heartbeats`).
    orchestrator: OrchestratorConfig = field(default_factory=OrchestratorConfig)

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ValueError(
                f"a devstack needs at least one node besides the hub, not {self.members}"
            )

    @property
    def hub(self) -> NodePlan:
        return NodePlan(HUB, self.directory / HUB)

    @property
    def nodes(self) -> list[NodePlan]:
        return [
            NodePlan(f"node{i}", self.directory / f"node{i}") for i in range(1, self.members + 1)
        ]

    @property
    def swarm_key(self) -> Path:
        return self.directory / "swarm.key"

    @property
    def passphrase_file(self) -> Path:
        return self.directory / "passphrase"

    @property
    def manifest(self) -> Path:
        """devstack.json: the running nodes (name, home, DID, API), for scripts."""
        return self.directory / "devstack.json"

    @property
    def hub_leaf_url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.hub_port}"

    def config(self, node: NodePlan) -> dict[str, Any]:
        """The node's config.yaml content."""
        mesh: dict[str, Any] = {"heartbeat_seconds": self.heartbeat_seconds}
        if self.private:
            mesh["swarm_key_file"] = str(self.swarm_key)
        if self.hub_port == 0:
            raise ValueError("the hub's leaf port must be chosen before the nodes are configured")
        if node.is_hub:
            mesh["hub"] = {"host": "127.0.0.1", "port": self.hub_port}
        else:
            mesh["bootstrap"] = [self.hub_leaf_url]
        return {
            "api": {"host": "127.0.0.1", "port": 0},
            "mesh": mesh,
            "onboarding": {"benchmark_on_onboard": self.benchmark_on_onboard},
            "index": {"follow_swarm": node.is_hub or self.member_indexes},
            "orchestrator": msgspec.to_builtins(self.orchestrator),
        }
