"""Token-bucket rate limits per sender (DID) and per topic, with bounded memory and no clock.

The caller passes `now` (seconds, any monotonic origin). A bucket holds at most `burst` tokens
and refills at `rate_per_second`; a message costing `cost` passes if that many tokens are there.
So in any interval of length T a key is allowed at most `burst + rate * T`.

Memory stays bounded two ways. A bucket that has refilled to full is the same as no bucket, so
idle buckets are dropped as they are met. Beyond `max_keys` buckets the least recently used is
dropped even if not full: that key gets a fresh burst, the price of a hard bound when anyone can
mint new DIDs (the alternative, refusing new keys, would let them lock out honest newcomers).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from nunet.errors import NunetError


class RateLimitError(NunetError):
    """A rate limit was configured or used wrongly."""


@dataclass(frozen=True, slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """One token bucket per key, at most `max_keys` of them."""

    def __init__(self, rate_per_second: float, burst: float, *, max_keys: int = 10_000) -> None:
        if not rate_per_second >= 0:
            raise RateLimitError(f"a rate cannot be negative ({rate_per_second}/s)")
        if not burst > 0:
            raise RateLimitError(f"a burst must be positive ({burst})")
        if max_keys < 1:
            raise RateLimitError(f"max_keys must be at least 1 ({max_keys})")
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        """How many keys have a bucket that is not full (others are not stored)."""
        return len(self._buckets)

    def available(self, key: str, now: float) -> float:
        """Tokens `key` could spend at `now`; changes nothing."""
        return self._refilled(key, now).tokens

    def allow(self, key: str, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens of `key` if it has them; a cost above the burst never passes."""
        if not cost > 0:
            raise RateLimitError(f"a cost must be positive ({cost})")
        if self.available(key, now) < cost:
            self._forget_idle(now)
            return False
        self.spend(key, now, cost)
        return True

    def spend(self, key: str, now: float, cost: float) -> None:
        """Take `cost` tokens unconditionally (after `available` said yes)."""
        bucket = self._refilled(key, now)
        self._buckets[key] = _Bucket(bucket.tokens - cost, bucket.updated)
        self._buckets.move_to_end(key)
        self._forget_idle(now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            return _Bucket(self.burst, now)
        if now <= bucket.updated:  # a clock that steps back grants nothing
            return bucket
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        return _Bucket(tokens, now)

    def _forget_idle(self, now: float) -> None:
        """Drop least recently used buckets that have refilled to full (they equal no bucket)."""
        while self._buckets:
            key = next(iter(self._buckets))
            if self._refilled(key, now).tokens < self.burst:
                return
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which limit refused a message, in words a log reader can act on."""

    limit: str  # "sender" or "topic"
    key: str
    rate_per_second: float
    burst: float

    def __str__(self) -> str:
        return (
            f"per-{self.limit} rate limit for {self.key!r} exceeded "
            f"({self.rate_per_second:g}/s, burst {self.burst:g})"
        )


class RateLimits:
    """The limits an inbound message must pass: its sender's bucket, and its topic's if any.

    Both are checked before either is charged, so a message refused by one limit costs nothing.
    """

    def __init__(
        self,
        *,
        sender_rate: float,
        sender_burst: float,
        topic_rate: float | None = None,
        topic_burst: float | None = None,
        max_senders: int = 10_000,
        max_topics: int = 1_000,
    ) -> None:
        self.senders = RateLimiter(sender_rate, sender_burst, max_keys=max_senders)
        self.topics: RateLimiter | None = None
        if (topic_rate is None) != (topic_burst is None):
            raise RateLimitError("give both topic_rate and topic_burst, or neither")
        if topic_rate is not None and topic_burst is not None:
            self.topics = RateLimiter(topic_rate, topic_burst, max_keys=max_topics)

    def decide(
        self, sender: str, topic: str | None, now: float, cost: float = 1.0
    ) -> Refusal | None:
        """None if the message may pass (and charge it), else the limit that refused it."""
        if not cost > 0:
            raise RateLimitError(f"a cost must be positive ({cost})")
        checks: list[tuple[str, RateLimiter, str]] = [("sender", self.senders, sender)]
        if topic is not None and self.topics is not None:
            checks.append(("topic", self.topics, topic))
        for limit, limiter, key in checks:
            if limiter.available(key, now) < cost:
                return Refusal(limit, key, limiter.rate, limiter.burst)
        for _, limiter, key in checks:
            limiter.spend(key, now, cost)
        return None

    def refuse(self, sender: str, topic: str | None, now: float) -> str | None:
        """The actor guard's question: None to let a message through, or why not."""
        refusal = self.decide(sender, topic, now)
        return None if refusal is None else str(refusal)
