"""Which event store a node's log lives in, as its configuration says: SQLite or PostgreSQL."""

from __future__ import annotations

from nunet.eventlog import EventLog, open_sqlite_log
from nunet.eventlog.postgres import PostgresEventLog
from nunet.node.config import NodeConfig
from nunet.node.layout import NodeLayout


async def open_node_log(
    layout: NodeLayout,
    config: NodeConfig,
    node_did: str,
    *,
    read_only: bool = False,
    poll_interval: float = 0.2,
) -> EventLog:
    """The node's log: its writer (the node itself), or a read-only view for tools."""
    if config.log.store == "postgres":
        assert config.log.postgres_dsn is not None  # NodeConfig guarantees it
        return await PostgresEventLog.open(
            config.log.postgres_dsn, log_name=node_did, read_only=read_only
        )
    return await open_sqlite_log(layout.log, read_only=read_only, poll_interval=poll_interval)
