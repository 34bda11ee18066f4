"""Ranking the bids of one round: a pluggable chain of rankers, each scoring every bid in [0, 1],
combined by weight.

A ranker sees the whole round, so it can score relative to the other bids (the cheapest bid gets
1 on price, one twice as dear 0.5), which keeps scores comparable whatever the currency's scale.
The combined score is the weighted mean; ties go to the lower DID so a ranking is reproducible.

Default chain (name: weight): fit 3 (the requirement's soft preferences), prior_failures 2,
price 2, free_capacity 1, benchmarks 1, locality 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nunet.capability import preference_score
from nunet.capability.model import Requirement
from nunet.matching.bid import BidTerms
from nunet.matching.errors import MatchingError


@dataclass(frozen=True)
class RankingContext:
    """What rankers may consult beyond the bids: the orchestrator's view of the peers."""

    requirement: Requirement
    rtt: Callable[[str], float | None] = lambda did: None  # seconds to a peer, if measured
    failures: Callable[[str], int] = lambda did: 0  # prior failures of a peer


class Ranker(Protocol):
    name: str

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        """One score in [0, 1] per bid, in order; higher is better."""
        ...


class FitRanker:
    """How well a bid meets the requirement's soft preferences (`prefer`)."""

    name = "fit"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        return [preference_score(b.capability, b.free, context.requirement) for b in bids]


class FreeCapacityRanker:
    """Spread: the more room a node has left after taking the job, the better.

    Per requested resource, the share of the free amount the job would leave; the mean of them
    (CPU and RAM always count, so an empty ask still prefers the emptier node)."""

    name = "free_capacity"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        need = context.requirement
        return [
            _mean(
                [
                    _left(need.cpu, bid.free.cpu),
                    _left(need.ram, bid.free.ram),
                    *([_left(need.disk, bid.free.disk)] if need.disk else []),
                    *([_left(len(need.gpus), len(bid.free.gpus))] if need.gpus else []),
                ]
            )
            for bid in bids
        ]


class PriceRanker:
    """Cheaper is better: the cheapest bid of the round scores 1, one costing k times it 1/k."""

    name = "price"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        costs = [bid.hourly_cost for bid in bids]
        return _relative_low(costs)


class BenchmarkRanker:
    """Faster is better: multi-core CPU score, and GPU throughput when GPUs are asked for,
    each relative to the best bid of the round; unmeasured scores 0."""

    name = "benchmarks"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        cpu = _relative_high([b.capability.benchmarks.cpu_multi for b in bids])
        if not context.requirement.gpus:
            return cpu
        gpu = _relative_high([b.capability.benchmarks.gpu_flops for b in bids])
        return [(c + g) / 2 for c, g in zip(cpu, gpu, strict=True)]


class LocalityRanker:
    """Closer is better: the lowest measured RTT scores 1; an unmeasured peer scores 0.5."""

    name = "locality"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        rtts = [context.rtt(bid.bidder) for bid in bids]
        known = [r for r in rtts if r is not None]
        best = min(known, default=0.0)
        return [0.5 if r is None else (1.0 if r <= best or r <= 0 else best / r) for r in rtts]


class PriorFailureRanker:
    """Reliable is better: 1 / (1 + failures this orchestrator has seen from the peer)."""

    name = "prior_failures"

    def scores(self, bids: Sequence[BidTerms], context: RankingContext) -> list[float]:
        return [1.0 / (1.0 + max(0, context.failures(bid.bidder))) for bid in bids]


RANKERS: dict[str, Callable[[], Ranker]] = {
    "fit": FitRanker,
    "prior_failures": PriorFailureRanker,
    "price": PriceRanker,
    "free_capacity": FreeCapacityRanker,
    "benchmarks": BenchmarkRanker,
    "locality": LocalityRanker,
}
DEFAULT_WEIGHTS: dict[str, float] = {
    "fit": 3.0,
    "prior_failures": 2.0,
    "price": 2.0,
    "free_capacity": 1.0,
    "benchmarks": 1.0,
    "locality": 1.0,
}


@dataclass(frozen=True)
class Ranked:
    bid: BidTerms
    score: float
    by_ranker: dict[str, float] = field(default_factory=dict)


class RankerChain:
    """Rankers with weights; `rank` orders a round's bids best first."""

    def __init__(self, rankers: Sequence[tuple[Ranker, float]]) -> None:
        for ranker, weight in rankers:
            if not weight >= 0:
                raise MatchingError(f"ranker {ranker.name}: weight must be ≥ 0, not {weight}")
        self._rankers = list(rankers)

    @classmethod
    def from_weights(cls, weights: Mapping[str, float] | None = None) -> RankerChain:
        """The built-in rankers by name; unknown names are an error listing the known ones."""
        chosen = DEFAULT_WEIGHTS if weights is None else weights
        unknown = sorted(set(chosen) - set(RANKERS))
        if unknown:
            raise MatchingError(
                f"unknown ranker {', '.join(unknown)}; known: {', '.join(sorted(RANKERS))}"
            )
        return cls([(RANKERS[name](), float(weight)) for name, weight in chosen.items()])

    @property
    def weights(self) -> dict[str, float]:
        return {ranker.name: weight for ranker, weight in self._rankers}

    def rank(self, bids: Sequence[BidTerms], context: RankingContext) -> list[Ranked]:
        if not bids:
            return []
        columns = {r.name: r.scores(bids, context) for r, _ in self._rankers}
        total = sum(w for _, w in self._rankers) or 1.0
        ranked = []
        for i, bid in enumerate(bids):
            by_ranker = {name: round(_clamp(col[i]), 6) for name, col in columns.items()}
            score = sum(w * _clamp(columns[r.name][i]) for r, w in self._rankers) / total
            ranked.append(Ranked(bid, round(score, 6), by_ranker))
        ranked.sort(key=lambda r: (-r.score, r.bid.bidder))
        return ranked


def _left(asked: float, free: float) -> float:
    if free <= 0:
        return 0.0
    return max(0.0, 1.0 - asked / free)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _relative_low(values: Sequence[float]) -> list[float]:
    best = min(values, default=0.0)
    return [1.0 if v <= best or v <= 0 else best / v for v in values]


def _relative_high(values: Sequence[float]) -> list[float]:
    best = max(values, default=0.0)
    return [0.0 if best <= 0 else v / best for v in values]


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
