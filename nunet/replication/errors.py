"""Errors of log replication."""

from __future__ import annotations

from nunet.errors import NunetError


class ReplicationError(NunetError):
    """Replication of an event log over the swarm could not do what was asked."""


class SwarmUnreachable(ReplicationError):
    """The swarm's JetStream (the hubs) did not answer: no route to a hub, or it timed out."""


class MalformedLogMessage(ReplicationError):
    """A message on a swarm log subject is not an EventRecord of the node it claims to be from."""


class UntrustedCheckpoint(ReplicationError):
    """A replicated checkpoint is not the node's: another key signed it, or it does not decode."""
