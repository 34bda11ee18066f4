"""Decentralized search and matching: bid requests broadcast to the swarm, signed bids and
declines, verification, a pluggable ranking chain, queueing with backoff.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.matching.actor import (
    INDEX_QUERY_BEHAVIOR,
    MATCHING_ACTOR_ID,
    SEARCH_BEHAVIOR,
    IndexQuery,
    MatchingActor,
    Offering,
    SearchRequest,
)
from nunet.matching.bid import (
    BID_BEHAVIOR,
    REQUEST_BEHAVIOR,
    REQUESTS_TOPIC,
    BidRequest,
    BidTerms,
    DeclineTerms,
    SignedReply,
    open_reply,
    sign_reply,
)
from nunet.matching.errors import BidRejected, MatchingError, NoMatch
from nunet.matching.events import (
    EVENTS,
    BidRefused,
    BidRequested,
    BidSent,
    Declined,
    Queued,
    RequestRefused,
    RoundCompleted,
)
from nunet.matching.failures import FailureBook
from nunet.matching.ranking import (
    DEFAULT_WEIGHTS,
    RANKERS,
    BenchmarkRanker,
    FitRanker,
    FreeCapacityRanker,
    LocalityRanker,
    PriceRanker,
    PriorFailureRanker,
    Ranked,
    Ranker,
    RankerChain,
    RankingContext,
)
from nunet.matching.round import DECLINE_REASONS, NOT_ONBOARDED, BidRound, Rejection, RoundResult

__all__ = [
    "BID_BEHAVIOR",
    "DECLINE_REASONS",
    "DEFAULT_WEIGHTS",
    "EVENTS",
    "INDEX_QUERY_BEHAVIOR",
    "MATCHING_ACTOR_ID",
    "NOT_ONBOARDED",
    "RANKERS",
    "REQUESTS_TOPIC",
    "REQUEST_BEHAVIOR",
    "SEARCH_BEHAVIOR",
    "BenchmarkRanker",
    "BidRefused",
    "BidRejected",
    "BidRequest",
    "BidRequested",
    "BidRound",
    "BidSent",
    "BidTerms",
    "DeclineTerms",
    "Declined",
    "FailureBook",
    "FitRanker",
    "FreeCapacityRanker",
    "IndexQuery",
    "LocalityRanker",
    "MatchingActor",
    "MatchingError",
    "NoMatch",
    "Offering",
    "PriceRanker",
    "PriorFailureRanker",
    "Queued",
    "Ranked",
    "Ranker",
    "RankerChain",
    "RankingContext",
    "Rejection",
    "RequestRefused",
    "RoundCompleted",
    "RoundResult",
    "SearchRequest",
    "SignedReply",
    "open_reply",
    "sign_reply",
]
