"""The capability index: a projection of the swarm's events saying which node offers what and
what is free now, filtered and ranked for a requirement in milliseconds over 100,000 nodes.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.index.errors import CapabilityIndexError, InvalidEvent, InvalidQuery
from nunet.index.follow import IndexProblem, SwarmIndexer, follow_swarm, index_catalogue
from nunet.index.index import (
    INDEXED_EVENTS,
    INDEXED_TYPES,
    CapabilityIndex,
    IndexEntry,
    IndexSnapshot,
    Liveness,
)
from nunet.index.projection import IndexProjection
from nunet.index.query import DOWN, Candidate, IndexAnswer
from nunet.index.scoring import ask_cost, headroom

__all__ = [
    "DOWN",
    "INDEXED_EVENTS",
    "INDEXED_TYPES",
    "Candidate",
    "CapabilityIndex",
    "CapabilityIndexError",
    "IndexAnswer",
    "IndexEntry",
    "IndexProblem",
    "IndexProjection",
    "IndexSnapshot",
    "InvalidEvent",
    "InvalidQuery",
    "Liveness",
    "SwarmIndexer",
    "ask_cost",
    "follow_swarm",
    "headroom",
    "index_catalogue",
]
