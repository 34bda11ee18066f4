"""Reading the swarm log: one node's records, or every node's, verified and in each node's order.

Ordered consumers (ephemeral, in memory on the hub, re-created by nats-py from the last stream
position when messages are missed or heartbeats stop) with a subject filter deliver the stream
as stored; a NodeSequencer per node drops re-sends, puts records back in seq order and refuses
any record that breaks the node's hash chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError

from nunet.eventlog import EventRecord
from nunet.replication.errors import MalformedLogMessage, ReplicationError, SwarmUnreachable
from nunet.replication.sequencer import HOLD_LIMIT, ChainProblem, NodeSequencer
from nunet.replication.stream import (
    ALL_SUBJECTS,
    STREAM,
    LogMessage,
    decode_message,
    node_subject,
)

log = structlog.get_logger("nunet.replication")

ProblemHandler = Callable[[ChainProblem], None]
# (node, seq): every record of the node up to seq is now shown to be the node's (a checkpoint)
AuthenticationHandler = Callable[[str, int], None]
_STREAM_NOT_FOUND = 10059  # JetStream's error code; 10037 is "no message found"
_HEARTBEAT = 2.0  # seconds; two missed heartbeats make nats-py re-create the ordered consumer


@dataclass(frozen=True)
class NodeRecord:
    """A record of the swarm log with the node it belongs to."""

    node: str
    record: EventRecord


def log_problem(problem: ChainProblem) -> None:
    """The default problem handler: a warning in the node's structured log."""
    log.warning(
        "replication.record_refused",
        node=problem.node,
        seq=problem.seq,
        kind=problem.kind,
        reason=problem.reason,
    )


class SwarmLogReader:
    """Reads the swarm log stream through `nc`, in JetStream domain `domain` (the hubs').

    `hold_limit`: per node, how many records may wait for a missing one (see NodeSequencer).
    Problems (refused records, given-up gaps) go to `on_problem`, by default a log warning.
    """

    def __init__(
        self,
        nc: NatsClient,
        domain: str | None,
        *,
        hold_limit: int = HOLD_LIMIT,
        on_problem: ProblemHandler = log_problem,
    ) -> None:
        self._js: JetStreamContext = nc.jetstream(domain=domain)
        self._domain = domain
        self._hold_limit = hold_limit
        self._on_problem = on_problem

    async def node(
        self,
        node_did: str,
        *,
        from_seq: int = 1,
        prev_hash: bytes | None = None,
        follow: bool = True,
        on_problem: ProblemHandler | None = None,
        on_authenticated: AuthenticationHandler | None = None,
    ) -> AsyncGenerator[EventRecord, None]:
        """The node's records from `from_seq` on, in seq order, each verified and delivered once.

        Without `follow` it ends at the end of what the stream held when it started; records
        still held back behind a gap then are reported as a `gap` problem, not delivered.
        The stream is read from the start of the node's subject: records before `from_seq` are
        read and skipped (the stream cannot be searched by record seq). `prev_hash`: the hash of
        record from_seq - 1 when known, so the first record's link is checked too.
        `on_authenticated(node, seq)` is called, after the records up to seq were delivered,
        each time a checkpoint signed by the node's key vouches for a later seq.
        """
        report = on_problem or self._on_problem
        sequencer = NodeSequencer(
            node_did, from_seq=from_seq, prev_hash=prev_hash, hold_limit=self._hold_limit
        )
        async with aclosing(self._messages(node_subject(node_did), follow)) as messages:
            async for message in messages:
                decoded = self._decode(message, report)
                if decoded is None:
                    continue
                authenticated = sequencer.authenticated
                for offered in decoded.records:
                    released = sequencer.offer(offered)
                    for problem in released.problems:
                        report(problem)
                    for record in released.records:
                        yield record
                if on_authenticated is not None and sequencer.authenticated > authenticated:
                    on_authenticated(node_did, sequencer.authenticated)
        if (gap := sequencer.pending_gap()) is not None:
            report(gap)

    async def swarm(
        self,
        *,
        follow: bool = True,
        on_problem: ProblemHandler | None = None,
        on_authenticated: AuthenticationHandler | None = None,
    ) -> AsyncGenerator[NodeRecord, None]:
        """Every node's records, each node's in seq order, verified, delivered once.

        Nodes interleave as the stream stored them. Without `follow` it ends at the end of what
        the stream held when it started. `on_authenticated` as for `node`.
        """
        report = on_problem or self._on_problem
        sequencers: dict[str, NodeSequencer] = {}
        async with aclosing(self._messages(ALL_SUBJECTS, follow)) as messages:
            async for message in messages:
                decoded = self._decode(message, report)
                if decoded is None:
                    continue
                sequencer = sequencers.get(decoded.node)
                if sequencer is None:
                    sequencer = sequencers[decoded.node] = NodeSequencer(
                        decoded.node, hold_limit=self._hold_limit
                    )
                authenticated = sequencer.authenticated
                for offered in decoded.records:
                    released = sequencer.offer(offered)
                    for problem in released.problems:
                        report(problem)
                    for record in released.records:
                        yield NodeRecord(decoded.node, record)
                if on_authenticated is not None and sequencer.authenticated > authenticated:
                    on_authenticated(decoded.node, sequencer.authenticated)
        for sequencer in sequencers.values():
            if (gap := sequencer.pending_gap()) is not None:
                report(gap)

    async def _messages(self, subject: str, follow: bool) -> AsyncGenerator[Msg, None]:
        """The stream's messages on `subject` in stream order; without `follow`, up to its end now."""
        end: int | None = None
        try:
            if not follow:
                try:
                    end = (await self._js.get_last_msg(STREAM, subject)).seq
                except NotFoundError as exc:
                    if exc.err_code == _STREAM_NOT_FOUND:
                        raise
                    return  # no message on the subject
            subscription = await self._js.subscribe(
                subject,
                stream=STREAM,
                ordered_consumer=True,
                idle_heartbeat=_HEARTBEAT,
                deliver_policy=api.DeliverPolicy.ALL,
            )
        except NotFoundError:
            raise ReplicationError(
                f"JetStream domain {self._domain!r} has no stream {STREAM}: no node replicates its"
                " log there yet, or the domain is not the swarm's"
            ) from None
        except (nats.errors.Error, JetStreamError, TimeoutError) as exc:
            raise SwarmUnreachable(
                f"the swarm's JetStream (domain {self._domain!r}) did not answer: {exc}"
            ) from None
        try:
            while True:
                message = await subscription.next_msg(timeout=None)
                yield message
                if end is not None and message.metadata.sequence.stream >= end:
                    return
        finally:
            await asyncio.shield(_unsubscribe(subscription))

    @staticmethod
    def _decode(message: Msg, report: ProblemHandler) -> LogMessage | None:
        """The message's records (format 1 or 2), or None after reporting it malformed."""
        try:
            return decode_message(message.subject, message.headers, message.data)
        except MalformedLogMessage as exc:
            report(ChainProblem(message.subject, 0, "malformed", str(exc)))
            return None


async def _unsubscribe(subscription: JetStreamContext.PushSubscription) -> None:
    try:
        await subscription.unsubscribe()
    except (nats.errors.Error, JetStreamError, OSError) as exc:  # closing, or the hub is gone
        log.debug("replication.unsubscribe_failed", error=str(exc))
