"""The node: opens its keys, log, store and capability context, and runs its actors."""

from nunet.node.config import ConfigError, NodeConfig, load_config, parse_config
from nunet.node.node import Node, NodeLayout
from nunet.node.node_actor import NODE_ACTOR_ID, NodeActor
from nunet.node.user_agent import USER_ACTOR_ID, UserAgent

__all__ = [
    "NODE_ACTOR_ID",
    "USER_ACTOR_ID",
    "ConfigError",
    "Node",
    "NodeActor",
    "NodeConfig",
    "NodeLayout",
    "UserAgent",
    "load_config",
    "parse_config",
]
