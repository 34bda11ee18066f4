"""The devstack plan: valid node configs for the hub and its members."""

from __future__ import annotations

from pathlib import Path

import pytest

from nunet.devstack import StackPlan
from nunet.node import parse_config


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
