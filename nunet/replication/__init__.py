"""Event-log replication over NATS JetStream: every node's log in one stream on the swarm's hubs."""

from nunet.replication.authentication import VouchedHead, vouched_head
from nunet.replication.backoff import Backoff
from nunet.replication.connection import swarm_log_reader
from nunet.replication.cursor import CursorStore, resume_after
from nunet.replication.errors import (
    MalformedLogMessage,
    ReplicationError,
    SwarmUnreachable,
    UntrustedCheckpoint,
)
from nunet.replication.events import EVENTS, ReplicationResumed, ReplicationStalled
from nunet.replication.lag import LagReport, measure_lag
from nunet.replication.outbox import Outbox
from nunet.replication.reader import (
    AuthenticationHandler,
    NodeRecord,
    ProblemHandler,
    SwarmLogReader,
    log_problem,
)
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
    "AuthenticationHandler",
    "Backoff",
    "ChainProblem",
    "CursorStore",
    "LagReport",
    "MalformedLogMessage",
    "NodeRecord",
    "NodeSequencer",
    "Outbox",
    "ProblemHandler",
    "Replica",
    "ReplicationError",
    "ReplicationResumed",
    "ReplicationStalled",
    "Sequenced",
    "SwarmLogReader",
    "SwarmUnreachable",
    "UntrustedCheckpoint",
    "VouchedHead",
    "ensure_swarm_stream",
    "last_replicated_seq",
    "log_problem",
    "measure_lag",
    "node_subject",
    "resume_after",
    "swarm_log_reader",
    "vouched_head",
]
