"""Event-log replication over NATS JetStream: every node's log in one stream on the swarm's hubs."""

from nunet.replication.backoff import Backoff
from nunet.replication.connection import swarm_log_reader
from nunet.replication.cursor import CursorStore, resume_after
from nunet.replication.errors import MalformedLogMessage, ReplicationError, SwarmUnreachable
from nunet.replication.events import EVENTS, ReplicationResumed, ReplicationStalled
from nunet.replication.lag import LagReport, measure_lag
from nunet.replication.outbox import Outbox
from nunet.replication.reader import NodeRecord, SwarmLogReader, log_problem
from nunet.replication.replica import Replica
from nunet.replication.sequencer import ChainProblem, NodeSequencer, Sequenced
from nunet.replication.stream import (
    ALL_SUBJECTS,
    STREAM,
    ensure_swarm_stream,
    last_replicated_seq,
    node_subject,
)

__all__ = [
    "ALL_SUBJECTS",
    "EVENTS",
    "STREAM",
    "Backoff",
    "ChainProblem",
    "CursorStore",
    "LagReport",
    "MalformedLogMessage",
    "NodeRecord",
    "NodeSequencer",
    "Outbox",
    "Replica",
    "ReplicationError",
    "ReplicationResumed",
    "ReplicationStalled",
    "Sequenced",
    "SwarmLogReader",
    "SwarmUnreachable",
    "ensure_swarm_stream",
    "last_replicated_seq",
    "log_problem",
    "measure_lag",
    "node_subject",
    "resume_after",
    "swarm_log_reader",
]
