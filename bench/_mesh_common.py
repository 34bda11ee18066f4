"""What both sides of the mesh benchmarks share: the echo actor, subjects, node configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nunet.actor import Actor, Message, behavior
from nunet.node import NodeConfig, parse_config

ECHO = "/public/bench/echo"
ECHO_ACTOR = "echo"
RAW_SUBJECT = "bench.echo"


class Echo(Actor):
    @behavior(ECHO, public=True)
    async def echo(self, message: Message) -> object:
        return message.payload


def node_config(swarm_key: Path, replication: bool, mesh: dict[str, Any]) -> NodeConfig:
    # A benchmark is a flood by design: lift the per-sender limits the nodes apply to each other.
    limits = {"per_sender_per_second": 1e9, "per_sender_burst": 1 << 30}
    return parse_config(
        {
            "rate_limits": limits,
            "mesh": {
                "swarm_key_file": str(swarm_key),
                "heartbeat_seconds": 5.0,
                "replication": {"enabled": replication},
                **mesh,
            },
        }
    )
