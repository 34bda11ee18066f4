"""Token buckets per sender and per topic: exact counts, idle and LRU eviction, Hypothesis bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.actor.ratelimit import RateLimiter, RateLimitError, RateLimits, Refusal
from nunet.errors import NunetError

EPSILON = 1e-9


# --- one limiter ---


def test_a_new_key_may_spend_its_whole_burst_at_once() -> None:
    limiter = RateLimiter(1.0, 3)
    assert [limiter.allow("did:a", 0.0) for _ in range(4)] == [True, True, True, False]


def test_tokens_refill_at_the_rate() -> None:
    limiter = RateLimiter(2.0, 2)
    assert limiter.allow("k", 0.0)
    assert limiter.allow("k", 0.0)
    assert not limiter.allow("k", 0.0)
    assert not limiter.allow("k", 0.4)  # 0.8 tokens
    assert limiter.allow("k", 0.5)  # 1 token
    assert not limiter.allow("k", 0.5)


def test_refill_stops_at_the_burst() -> None:
    limiter = RateLimiter(10.0, 2)
    limiter.allow("k", 0.0)
    assert limiter.available("k", 1000.0) == 2
    assert [limiter.allow("k", 1000.0) for _ in range(3)] == [True, True, False]


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(0.0, 1)
    assert limiter.allow("a", 0.0)
    assert not limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0)


def test_a_refused_message_costs_nothing() -> None:
    limiter = RateLimiter(1.0, 1)
    limiter.allow("k", 0.0)
    for _ in range(10):
        assert not limiter.allow("k", 0.5)
    assert limiter.allow("k", 1.0)


@pytest.mark.parametrize(("cost", "allowed"), [(0.5, True), (3.0, True), (3.5, False)])
def test_a_cost_above_what_is_available_is_refused(cost: float, allowed: bool) -> None:
    assert RateLimiter(1.0, 3).allow("k", 0.0, cost=cost) is allowed


@pytest.mark.parametrize("cost", [0.0, -1.0])
def test_a_cost_must_be_positive(cost: float) -> None:
    with pytest.raises(RateLimitError):
        RateLimiter(1.0, 3).allow("k", 0.0, cost=cost)


def test_a_zero_rate_allows_only_the_burst_ever() -> None:
    limiter = RateLimiter(0.0, 2)
    assert [limiter.allow("k", t) for t in (0.0, 10.0, 1e6)] == [True, True, False]


def test_a_clock_stepping_back_grants_nothing() -> None:
    limiter = RateLimiter(1.0, 1)
    assert limiter.allow("k", 100.0)
    assert not limiter.allow("k", 50.0)
    assert not limiter.allow("k", 100.5)
    assert limiter.allow("k", 101.0)


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"), [(-1.0, 1.0, 10), (1.0, 0.0, 10), (1.0, -1.0, 10), (1.0, 1.0, 0)]
)
def test_limits_must_be_sensible(rate: float, burst: float, max_keys: int) -> None:
    with pytest.raises(RateLimitError):
        RateLimiter(rate, burst, max_keys=max_keys)


def test_rate_limit_errors_are_nunet_errors() -> None:
    assert issubclass(RateLimitError, NunetError)


def test_full_buckets_are_not_kept() -> None:
    limiter = RateLimiter(1.0, 1)
    for i in range(100):
        limiter.allow(f"k{i}", float(i))  # each refills fully in 1 s
    assert len(limiter) <= 2


def test_a_key_untouched_until_full_is_forgotten_without_effect() -> None:
    limiter = RateLimiter(1.0, 2)
    limiter.allow("old", 0.0)
    limiter.allow("new", 5.0)
    assert len(limiter) == 1
    assert limiter.available("old", 5.0) == 2


def test_beyond_max_keys_the_least_recently_used_bucket_is_dropped() -> None:
    limiter = RateLimiter(0.0, 1, max_keys=2)
    limiter.allow("a", 0.0)
    limiter.allow("b", 0.0)
    assert not limiter.allow("a", 0.0)  # a is refused, but this does not make it recent
    limiter.allow("c", 0.0)
    assert len(limiter) == 2
    assert limiter.available("a", 0.0) == 1  # dropped: a fresh burst (the documented price)
    assert limiter.available("b", 0.0) == 0
    assert limiter.available("c", 0.0) == 0


def test_spending_makes_a_key_recently_used() -> None:
    limiter = RateLimiter(0.0, 2, max_keys=2)
    limiter.allow("a", 0.0)
    limiter.allow("b", 0.0)
    limiter.allow("a", 0.0)
    limiter.allow("c", 0.0)
    assert limiter.available("a", 0.0) == 0
    assert limiter.available("b", 0.0) == 2


# --- sender and topic together ---


def limits() -> RateLimits:
    return RateLimits(sender_rate=1.0, sender_burst=2, topic_rate=1.0, topic_burst=3)


def test_a_direct_message_is_limited_by_its_sender_only() -> None:
    rates = limits()
    assert rates.decide("did:a", None, 0.0) is None
    assert rates.decide("did:a", None, 0.0) is None
    assert rates.decide("did:a", None, 0.0) == Refusal("sender", "did:a", 1.0, 2)


def test_a_topic_message_is_limited_by_its_topic_across_senders() -> None:
    rates = limits()
    assert rates.decide("did:a", "bids", 0.0) is None
    assert rates.decide("did:b", "bids", 0.0) is None
    assert rates.decide("did:c", "bids", 0.0) is None
    assert rates.decide("did:d", "bids", 0.0) == Refusal("topic", "bids", 1.0, 3)
    assert rates.decide("did:d", "other", 0.0) is None


def test_a_message_refused_by_the_topic_does_not_charge_the_sender() -> None:
    rates = RateLimits(sender_rate=0.0, sender_burst=1, topic_rate=0.0, topic_burst=1)
    assert rates.decide("did:a", "t", 0.0) is None
    assert rates.decide("did:b", "t", 0.0) is not None  # topic is spent
    assert rates.senders.available("did:b", 0.0) == 1
    assert rates.decide("did:b", None, 0.0) is None


def test_the_sender_limit_is_named_first_when_both_refuse() -> None:
    rates = RateLimits(sender_rate=0.0, sender_burst=1, topic_rate=0.0, topic_burst=1)
    rates.decide("did:a", "t", 0.0)
    refusal = rates.decide("did:a", "t", 0.0)
    assert refusal is not None
    assert refusal.limit == "sender"


def test_without_topic_limits_topics_are_free() -> None:
    rates = RateLimits(sender_rate=0.0, sender_burst=100)
    assert all(rates.decide(f"did:{i}", "t", 0.0) is None for i in range(50))
    assert rates.topics is None


def test_topic_rate_and_burst_come_together() -> None:
    with pytest.raises(RateLimitError, match="both"):
        RateLimits(sender_rate=1.0, sender_burst=1, topic_rate=1.0)


def test_refuse_answers_the_guard_in_words() -> None:
    rates = RateLimits(sender_rate=0.5, sender_burst=1)
    assert rates.refuse("did:a", None, 0.0) is None
    message = rates.refuse("did:a", None, 0.0)
    assert message == "per-sender rate limit for 'did:a' exceeded (0.5/s, burst 1)"


def test_a_cost_is_charged_to_both_limits() -> None:
    rates = limits()
    assert rates.decide("did:a", "t", 0.0, cost=2) is None
    assert rates.senders.available("did:a", 0.0) == 0
    assert rates.topics is not None
    assert rates.topics.available("t", 0.0) == 1
    with pytest.raises(RateLimitError):
        rates.decide("did:a", "t", 0.0, cost=0)


# --- properties ---

steps = st.lists(
    st.tuples(
        st.floats(0.0, 3.0, allow_nan=False),  # time since the previous message
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([0.5, 1.0, 2.0]),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 20.0), st.sampled_from([1.0, 2.5, 5.0]), steps)
def test_a_key_is_never_allowed_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: float, script: list[tuple[float, str, float]]
) -> None:
    limiter = RateLimiter(rate, burst, max_keys=3)  # room for every key: nothing evicted early
    now = 0.0
    granted: dict[str, list[tuple[float, float]]] = {"a": [], "b": [], "c": []}
    for delay, key, cost in script:
        now += delay
        if limiter.allow(key, now, cost):
            granted[key].append((now, cost))
    for grants in granted.values():
        for i, (start, _) in enumerate(grants):
            for end, _ in grants[i:]:
                spent = sum(cost for t, cost in grants if start <= t <= end)
                assert spent <= burst + rate * (end - start) + EPSILON


@settings(max_examples=200, deadline=None)
@given(st.floats(0.1, 20.0), st.sampled_from([1.0, 3.0]), st.floats(0.0, 5.0))
def test_a_patient_sender_is_always_allowed_at_the_rate(
    rate: float, burst: float, start: float
) -> None:
    limiter = RateLimiter(rate, burst)
    now = start
    for _ in range(50):
        assert limiter.allow("k", now)
        now += 1.0 / rate + EPSILON


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=300), st.integers(1, 20))
def test_memory_never_exceeds_max_keys(keys: list[int], max_keys: int) -> None:
    limiter = RateLimiter(0.0, 1, max_keys=max_keys)
    for key in keys:
        limiter.allow(f"did:{key}", 0.0)
        assert len(limiter) <= max_keys


@settings(max_examples=200, deadline=None)
@given(steps)
def test_combined_limits_never_let_a_sender_or_topic_exceed_its_own_bound(
    script: list[tuple[float, str, float]],
) -> None:
    rates = RateLimits(sender_rate=2.0, sender_burst=3, topic_rate=3.0, topic_burst=4)
    now = 0.0
    by_sender: dict[str, list[tuple[float, float]]] = {}
    by_topic: dict[str, list[tuple[float, float]]] = {}
    for i, (delay, sender, cost) in enumerate(script):
        now += delay
        topic = ["x", "y"][i % 2]
        if rates.decide(sender, topic, now, cost) is None:
            by_sender.setdefault(sender, []).append((now, cost))
            by_topic.setdefault(topic, []).append((now, cost))
    for grants, rate, burst in [
        *((g, 2.0, 3.0) for g in by_sender.values()),
        *((g, 3.0, 4.0) for g in by_topic.values()),
    ]:
        for i, (start, _) in enumerate(grants):
            end = grants[-1][0]
            spent = sum(cost for t, cost in grants[i:] if t <= end)
            assert spent <= burst + rate * (end - start) + EPSILON
