"""Errors of search and matching."""

from __future__ import annotations

from nunet.errors import NunetError


class MatchingError(NunetError):
    """Base of every matching error."""


class BidRejected(MatchingError):
    """A bid or decline that cannot be accepted: forged, malformed, stale, or not for us."""


class NoMatch(MatchingError):
    """Nothing fits a requirement (after the queue timeout, when queueing); says why."""
