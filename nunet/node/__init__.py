"""The node: opens its keys, log, store and capability context, and runs its actors."""

from nunet.node.config import ConfigError, NodeConfig, load_config, parse_config
from nunet.node.event_store import open_node_log
from nunet.node.home import HomeIdentity, init_home
from nunet.node.layout import NodeLayout
from nunet.node.node import Node
from nunet.node.node_actor import NODE_ACTOR_ID, NodeActor
from nunet.node.user_agent import USER_ACTOR_ID, UserAgent

__all__ = [
    "NODE_ACTOR_ID",
    "USER_ACTOR_ID",
    "ConfigError",
    "HomeIdentity",
    "Node",
    "NodeActor",
    "NodeConfig",
    "NodeLayout",
    "UserAgent",
    "init_home",
    "load_config",
    "open_node_log",
    "parse_config",
]
