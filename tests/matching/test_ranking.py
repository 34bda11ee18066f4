"""The ranking chain: each ranker's view, their weighted combination, and its determinism."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability.model import Benchmarks, GpuNeed, Preference, Price, Requirement
from nunet.identity import KeyPair
from nunet.matching import (
    BenchmarkRanker,
    BidTerms,
    FreeCapacityRanker,
    LocalityRanker,
    MatchingError,
    PriceRanker,
    PriorFailureRanker,
    RankerChain,
    RankingContext,
)
from tests.matching.samples import GIB, bid, h100, offer, request

ORCHESTRATOR = KeyPair.generate()
KEYS = sorted((KeyPair.generate() for _ in range(6)), key=lambda k: k.did)
NEED = Requirement(cpu=2, ram=4 * GIB)
REQUEST = request(ORCHESTRATOR, NEED)
CONTEXT = RankingContext(NEED)


def test_price_scores_the_cheapest_one_and_others_relative_to_it() -> None:
    bids = [bid(KEYS[0], REQUEST, offer(), cost=2.0), bid(KEYS[1], REQUEST, offer(), cost=1.0)]
    assert PriceRanker().scores(bids, CONTEXT) == [0.5, 1.0]


def test_free_capacity_prefers_the_node_left_with_more_room() -> None:
    roomy = bid(KEYS[0], REQUEST, offer(cpu=16, ram=64 * GIB))
    tight = bid(KEYS[1], REQUEST, offer(cpu=2, ram=4 * GIB))
    scores = FreeCapacityRanker().scores([roomy, tight], CONTEXT)
    assert scores[0] > scores[1] == 0.0


def test_benchmarks_count_gpu_throughput_only_when_gpus_are_asked_for() -> None:
    def measured(key: KeyPair, cpu_multi: float, gpu_flops: float) -> BidTerms:
        terms = bid(key, REQUEST, offer(gpus=(h100(0),)))
        benchmarks = Benchmarks(cpu_multi=cpu_multi, gpu_flops=gpu_flops)
        return msgspec.structs.replace(
            terms, capability=msgspec.structs.replace(terms.capability, benchmarks=benchmarks)
        )

    fast_cpu, fast_gpu = measured(KEYS[0], 200, 1e12), measured(KEYS[1], 100, 4e12)
    assert BenchmarkRanker().scores([fast_cpu, fast_gpu], CONTEXT) == [1.0, 0.5]
    gpu_context = RankingContext(Requirement(cpu=2, gpus=(GpuNeed(),)))
    assert BenchmarkRanker().scores([fast_cpu, fast_gpu], gpu_context) == [0.625, 0.75]


def test_locality_prefers_the_closest_and_is_neutral_about_the_unmeasured() -> None:
    rtts = {KEYS[0].did: 0.010, KEYS[1].did: 0.020}
    context = RankingContext(NEED, rtt=rtts.get)
    bids = [bid(k, REQUEST, offer()) for k in KEYS[:3]]
    assert LocalityRanker().scores(bids, context) == [1.0, 0.5, 0.5]


def test_prior_failures_lower_a_peers_score() -> None:
    failures = {KEYS[1].did: 3}
    context = RankingContext(NEED, failures=lambda did: failures.get(did, 0))
    bids = [bid(k, REQUEST, offer()) for k in KEYS[:2]]
    assert PriorFailureRanker().scores(bids, context) == [1.0, 0.25]


def test_the_chain_combines_by_weight_and_breaks_ties_by_did() -> None:
    cheap = bid(KEYS[1], REQUEST, offer(), cost=1.0)
    dear = bid(KEYS[0], REQUEST, offer(), cost=4.0)
    by_price = RankerChain.from_weights({"price": 1.0})
    assert [r.bid.bidder for r in by_price.rank([dear, cheap], CONTEXT)] == [
        KEYS[1].did,
        KEYS[0].did,
    ]
    same = [bid(k, REQUEST, offer()) for k in reversed(KEYS[:3])]
    ranked = RankerChain.from_weights().rank(same, CONTEXT)
    assert [r.bid.bidder for r in ranked] == [k.did for k in KEYS[:3]]
    assert ranked[0].by_ranker.keys() == RankerChain.from_weights().weights.keys()


def test_preferences_of_the_requirement_steer_the_fit_ranker() -> None:
    wants_cheap = Requirement(cpu=2, prefer=(Preference(dimension="price", weight=1),))
    cheap = bid(KEYS[0], REQUEST, offer(price=Price(cpu=0.01)))
    dear = bid(KEYS[1], REQUEST, offer(price=Price(cpu=10.0)))
    ranked = RankerChain.from_weights({"fit": 1.0}).rank([dear, cheap], RankingContext(wants_cheap))
    assert ranked[0].bid.bidder == KEYS[0].did
    assert ranked[0].score > ranked[1].score


def test_an_unknown_ranker_or_negative_weight_is_a_clear_error() -> None:
    with pytest.raises(MatchingError, match="unknown ranker luck; known: benchmarks"):
        RankerChain.from_weights({"luck": 1.0})
    with pytest.raises(MatchingError, match="weight must be ≥ 0"):
        RankerChain.from_weights({"price": -1.0})


@given(
    costs=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=6),
    cpus=st.lists(st.floats(2, 64, allow_nan=False), min_size=6, max_size=6),
)
def test_every_score_is_within_zero_and_one_and_ranking_is_a_permutation(
    costs: list[float], cpus: list[float]
) -> None:
    bids = [bid(KEYS[i], REQUEST, offer(cpu=cpus[i]), cost=cost) for i, cost in enumerate(costs)]
    ranked = RankerChain.from_weights().rank(bids, CONTEXT)
    assert sorted(r.bid.bidder for r in ranked) == sorted(b.bidder for b in bids)
    assert all(0.0 <= r.score <= 1.0 for r in ranked)
    assert all(0.0 <= v <= 1.0 for r in ranked for v in r.by_ranker.values())
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
