"""A bid round takes verified, timely replies for its request and refuses the rest, saying why."""

from __future__ import annotations

import msgspec
import pytest

from nunet.capability.model import Requirement
from nunet.identity import KeyPair
from nunet.matching import BidRound, RankerChain, RankingContext
from tests.matching.samples import GIB, bid, decline, offer, request

ORCHESTRATOR = KeyPair.generate()
NODES = [KeyPair.generate() for _ in range(4)]
NOW = 1_000_000.0
NEED = Requirement(cpu=2, ram=4 * GIB)
REQUEST = request(ORCHESTRATOR, NEED, timeout=2.0, now=NOW)


def ranked(bid_round: BidRound) -> list[str]:
    result = bid_round.result(RankerChain.from_weights(), RankingContext(NEED))
    return [r.bid.bidder for r in result.candidates]


def test_a_timely_bid_that_fits_is_a_candidate() -> None:
    bid_round = BidRound(REQUEST)
    assert bid_round.offer(bid(NODES[0], REQUEST, offer()), NOW + 0.1) is None
    assert ranked(bid_round) == [NODES[0].did]


@pytest.mark.parametrize(
    ("change", "at", "reason"),
    [
        ({"request_id": "x" * 24}, NOW + 0.1, "not " + REQUEST.request_id),
        ({}, NOW + 2.5, "after the round's deadline"),
        ({"issued_at": NOW - 100}, NOW + 0.1, "issued before the request"),
        ({"valid_until": NOW + 0.05}, NOW + 0.1, "expired"),
    ],
    ids=["another-request", "after-deadline", "issued-before-request", "expired"],
)
def test_replies_that_are_not_timely_or_not_ours_are_refused(
    change: dict[str, object], at: float, reason: str
) -> None:
    bid_round = BidRound(REQUEST)
    terms = msgspec.structs.replace(bid(NODES[0], REQUEST, offer()), **change)
    rejection = bid_round.offer(terms, at)
    assert rejection is not None
    assert reason in rejection.reason
    assert ranked(bid_round) == []
    assert bid_round.result(RankerChain.from_weights(), RankingContext(NEED)).rejected == (
        rejection,
    )


def test_a_bid_that_does_not_meet_the_requirement_is_refused_with_the_unmet_constraint() -> None:
    bid_round = BidRound(REQUEST)
    rejection = bid_round.offer(bid(NODES[0], REQUEST, offer(cpu=1)), NOW + 0.1)
    assert rejection is not None
    assert "does not meet the requirement" in rejection.reason
    assert "cpu" in rejection.reason


def test_a_second_reply_from_one_node_is_refused_and_the_first_kept() -> None:
    bid_round = BidRound(REQUEST)
    assert bid_round.offer(bid(NODES[0], REQUEST, offer(), cost=1.0), NOW + 0.1) is None
    second = bid_round.offer(bid(NODES[0], REQUEST, offer(), cost=0.1), NOW + 0.2)
    assert second is not None
    assert "second reply" in second.reason
    result = bid_round.result(RankerChain.from_weights(), RankingContext(NEED))
    assert [r.bid.hourly_cost for r in result.candidates] == [1.0]


def test_a_decline_must_name_known_constraints() -> None:
    bid_round = BidRound(REQUEST)
    rejection = bid_round.offer(decline(NODES[0], REQUEST, "vibes"), NOW + 0.1)
    assert rejection is not None
    assert "vibes" in rejection.reason
    empty = bid_round.offer(decline(NODES[1], REQUEST), NOW + 0.1)
    assert empty is not None
    assert "known constraints" in empty.reason


def test_declines_are_counted_per_constraint_in_evaluation_order() -> None:
    bid_round = BidRound(REQUEST)
    bid_round.offer(decline(NODES[0], REQUEST, "ram", "cpu"), NOW + 0.1)
    bid_round.offer(decline(NODES[1], REQUEST, "ram"), NOW + 0.1)
    bid_round.offer(decline(NODES[2], REQUEST, "onboarded"), NOW + 0.1)
    result = bid_round.result(RankerChain.from_weights(), RankingContext(NEED))
    assert result.declined == 3
    assert list(result.excluded.items()) == [("onboarded", 1), ("cpu", 1), ("ram", 2)]
    assert not result.matched
    assert result.why_not() == "3 node(s) declined (onboarded: 1, cpu: 1, ram: 2)"


def test_a_round_completes_at_the_deadline_on_enough_bids_or_when_everyone_answered() -> None:
    assert not BidRound(REQUEST).complete(NOW + 1.9)
    assert BidRound(REQUEST).complete(NOW + 2.0)
    wanting_one = BidRound(REQUEST, want=1)
    wanting_one.offer(bid(NODES[0], REQUEST, offer()), NOW + 0.1)
    assert wanting_one.complete(NOW + 0.1)
    everyone = BidRound(REQUEST)
    everyone.offer(bid(NODES[0], REQUEST, offer()), NOW + 0.1)
    assert not everyone.complete(NOW + 0.1, expected_replies=2)
    everyone.offer(decline(NODES[1], REQUEST, "cpu"), NOW + 0.1)
    assert everyone.complete(NOW + 0.1, expected_replies=2)


def test_no_reply_at_all_says_so() -> None:
    result = BidRound(REQUEST).result(RankerChain.from_weights(), RankingContext(NEED))
    assert result.why_not() == "no node answered the bid request before its deadline"
