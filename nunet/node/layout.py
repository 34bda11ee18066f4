"""Where a node keeps its files under its home directory."""

from __future__ import annotations

from pathlib import Path


class NodeLayout:
    """Where a node keeps its files under its home directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.keys = home / "keys"
        self.cap = home / "cap"
        self.log = home / "log" / "events.db"
        self.projections = home / "log" / "projections.db"
        self.store = home / "store.db"
        self.executions = home / "executions"  # per executor: logs and state of executions
        self.allocations = home / "allocations"  # provider: files of the allocations it runs
        self.volumes = home / "volumes"  # provider: allocations' inputs and outputs (default)
        self.results = home / "results"  # orchestrator: what ended allocations left (logs)
        self.config = home / "config.yaml"
        self.api_info = home / "api.json"
        self.api_socket = home / "api.sock"
        self.mesh_access = home / "mesh.json"  # how local tools reach the node's NATS server
        self.mesh = home / "mesh"  # the embedded NATS server: config, TLS files, JetStream store
