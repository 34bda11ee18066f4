"""Setting up a node home: its keys, and the local user trusted as root of the node's capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nunet.identity import KeyStore
from nunet.node.config import NodeConfig
from nunet.ucan import FileAnchorStore, anchor_path


@dataclass(frozen=True)
class HomeIdentity:
    home: Path
    node_did: str
    user_did: str


def init_home(home: Path, keystore: KeyStore, config: NodeConfig) -> HomeIdentity:
    """Create the node and user keys where missing and anchor the user as root. Idempotent."""
    node_key = keystore.ensure(config.node_key)
    user_key = keystore.ensure(config.user_key)
    anchors = FileAnchorStore.open_or_create(anchor_path(home, config.node_key), node_key.did)
    if user_key.did not in anchors.snapshot().roots:
        anchors.add_root(user_key.did)
    FileAnchorStore.open_or_create(anchor_path(home, config.user_key), user_key.did)
    return HomeIdentity(home, node_key.did, user_key.did)
