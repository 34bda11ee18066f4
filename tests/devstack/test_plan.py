"""The devstack plan: valid node configs for the hub and its members."""

from __future__ import annotations

from pathlib import Path

import pytest

from nunet.devstack import StackPlan
from nunet.node import parse_config
from nunet.node.config import OrchestratorConfig


def test_the_hub_accepts_leaves_and_members_bootstrap_from_it(tmp_path: Path) -> None:
    plan = StackPlan(tmp_path, 3, heartbeat_seconds=0.5, hub_port=7422)
    hub = parse_config(plan.config(plan.hub))
    assert hub.mesh.hub is not None
    assert hub.mesh.hub.port == 7422
    assert hub.mesh.bootstrap == []
    assert [node.name for node in plan.nodes] == ["node1", "node2", "node3"]
    for node in plan.nodes:
        member = parse_config(plan.config(node))
        assert member.mesh.hub is None
        assert member.mesh.bootstrap == ["nats-leaf://127.0.0.1:7422"]
        assert member.mesh.swarm_key_file == str(plan.swarm_key)
        assert member.mesh.heartbeat_seconds == 0.5
        assert member.api.host == "127.0.0.1"


def test_an_open_swarm_stack_has_no_swarm_key(tmp_path: Path) -> None:
    plan = StackPlan(tmp_path, 1, private=False, hub_port=7422)
    assert parse_config(plan.config(plan.hub)).mesh.swarm_key_file is None


def test_nodes_are_configured_only_once_the_hub_port_is_chosen(tmp_path: Path) -> None:
    plan = StackPlan(tmp_path, 1)
    with pytest.raises(ValueError, match="leaf port"):
        plan.config(plan.nodes[0])


def test_a_stack_needs_a_member(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one node"):
        StackPlan(tmp_path, 0)


def test_nodes_sharing_one_machine_neither_benchmark_nor_all_follow_the_swarm_unless_asked(
    tmp_path: Path,
) -> None:
    plan = StackPlan(tmp_path, 2, hub_port=7422)
    hub = parse_config(plan.config(plan.hub))
    members = [parse_config(plan.config(node)) for node in plan.nodes]
    assert hub.index.follow_swarm
    assert not any(m.index.follow_swarm for m in members)
    assert not any(c.onboarding.benchmark_on_onboard for c in [hub, *members])
    asked = StackPlan(tmp_path, 2, hub_port=7422, benchmark_on_onboard=True, member_indexes=True)
    for node in asked.nodes:
        config = parse_config(asked.config(node))
        assert config.index.follow_swarm
        assert config.onboarding.benchmark_on_onboard


def test_every_node_orchestrates_with_the_plans_heartbeats(tmp_path: Path) -> None:
    default = StackPlan(tmp_path, 1, hub_port=7422)
    assert parse_config(default.config(default.hub)).orchestrator == OrchestratorConfig()
    fast = OrchestratorConfig(heartbeat_seconds=0.5, missed_heartbeats=3, bid_timeout_seconds=0.4)
    plan = StackPlan(tmp_path, 2, hub_port=7422, orchestrator=fast)
    for node in [plan.hub, *plan.nodes]:
        assert parse_config(plan.config(node)).orchestrator == fast
