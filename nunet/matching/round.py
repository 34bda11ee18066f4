"""One bid round as the orchestrator keeps it: which replies count, which are refused and why,
and the ranked result. Pure: it is given the time, it never reads a clock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nunet.capability import CONSTRAINTS, check
from nunet.matching.bid import BidRequest, BidTerms, DeclineTerms
from nunet.matching.ranking import Ranked, RankerChain, RankingContext

NOT_ONBOARDED = "onboarded"  # a decline's reason when the node offers nothing to the swarm
DECLINE_REASONS = (NOT_ONBOARDED, *CONSTRAINTS)


@dataclass(frozen=True)
class Rejection:
    """A reply the round did not take, and why (also logged by the actor)."""

    bidder: str
    reason: str


@dataclass(frozen=True)
class RoundResult:
    """The outcome of a round: ranked candidates, and why the others are not among them.

    `excluded` counts, per constraint (capability.CONSTRAINTS order), the nodes that declined
    because of it; a node unable to meet several constraints counts under each.
    """

    request: BidRequest
    candidates: tuple[Ranked, ...]
    declined: int
    excluded: dict[str, int]
    rejected: tuple[Rejection, ...]

    @property
    def matched(self) -> bool:
        return bool(self.candidates)

    def why_not(self) -> str:
        """One line saying why nothing fits (or what was excluded)."""
        if not self.declined and not self.rejected:
            return "no node answered the bid request before its deadline"
        parts = [f"{constraint}: {count}" for constraint, count in self.excluded.items()]
        text = f"{self.declined} node(s) declined"
        if parts:
            text += " (" + ", ".join(parts) + ")"
        if self.rejected:
            text += f"; {len(self.rejected)} reply(ies) refused"
        return text


class BidRound:
    """Collects the replies to `request` until its deadline or until `want` bids are in."""

    def __init__(self, request: BidRequest, *, want: int | None = None, skew: float = 30.0):
        self.request = request
        self._want = want
        self._skew = skew
        self._bids: dict[str, BidTerms] = {}
        self._declines: dict[str, DeclineTerms] = {}
        self._rejected: list[Rejection] = []

    @property
    def bids(self) -> int:
        return len(self._bids)

    @property
    def replies(self) -> int:
        return len(self._bids) + len(self._declines)

    def complete(self, now: float, *, expected_replies: int | None = None) -> bool:
        """Done at the deadline, once `want` bids are in, or once every node expected to
        answer (bid or decline) has."""
        enough = self._want is not None and len(self._bids) >= self._want
        everyone = expected_replies is not None and self.replies >= expected_replies
        return enough or everyone or now >= self.request.deadline

    def offer(self, terms: BidTerms | DeclineTerms, now: float) -> Rejection | None:
        """Take a verified reply; the Rejection (also kept) if the round refuses it."""
        reason = self._refusal(terms, now)
        if reason is not None:
            rejection = Rejection(terms.bidder, reason)
            self._rejected.append(rejection)
            return rejection
        if isinstance(terms, BidTerms):
            self._bids[terms.bidder] = terms
        else:
            self._declines[terms.bidder] = terms
        return None

    def reject(self, bidder: str, reason: str) -> Rejection:
        """Record a reply refused before it could be opened (forged, malformed)."""
        rejection = Rejection(bidder, reason)
        self._rejected.append(rejection)
        return rejection

    def result(self, chain: RankerChain, context: RankingContext) -> RoundResult:
        order = {c: i for i, c in enumerate(DECLINE_REASONS)}
        counts = Counter(c for d in self._declines.values() for c in dict.fromkeys(d.constraints))
        excluded = dict(
            sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        )
        return RoundResult(
            request=self.request,
            candidates=tuple(chain.rank(list(self._bids.values()), context)),
            declined=len(self._declines),
            excluded=excluded,
            rejected=tuple(self._rejected),
        )

    def _refusal(self, terms: BidTerms | DeclineTerms, now: float) -> str | None:
        request = self.request
        if terms.request_id != request.request_id:
            return f"reply to request {terms.request_id}, not {request.request_id}"
        if now > request.deadline:
            return f"stale: arrived {now - request.deadline:.3f}s after the round's deadline"
        if terms.issued_at + self._skew < request.issued_at:
            return "stale: issued before the request was"
        if terms.bidder in self._bids or terms.bidder in self._declines:
            return "a second reply from the same node to one request"
        if isinstance(terms, DeclineTerms):
            unknown = sorted(set(terms.constraints) - set(DECLINE_REASONS))
            if not terms.constraints or unknown:
                return f"a decline must name known constraints, not {unknown or 'none'}"
            return None
        if terms.valid_until < now:
            return "expired: the bid's validity ended before it arrived"
        fit = check(terms.capability, terms.free, request.requirement, did=terms.bidder)
        if not fit.ok:
            unmet = "; ".join(f"{u.constraint}: {u.detail}" for u in fit.unmet)
            return f"the bid does not meet the requirement ({unmet})"
        return None
