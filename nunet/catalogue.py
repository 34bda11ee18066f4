"""Every event type nunet writes and every projection it keeps, composed explicitly.

No registry: each package exports an EVENTS tuple (and UPCASTERS), and this module lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nunet.actor import events as actor_events
from nunet.allocation import events as allocation_events
from nunet.contracts import events as contract_events
from nunet.contracts import local_ledger as ledger_events
from nunet.contracts.local_ledger import LedgerProjection
from nunet.contracts.state import PaymentStateProjection
from nunet.eventlog import events as eventlog_events
from nunet.eventlog.catalogue import Catalogue
from nunet.eventlog.projection import Projection
from nunet.eventlog.statistics import LogStatistics
from nunet.executor import events as executor_events
from nunet.matching import events as matching_events
from nunet.mesh import events as mesh_events
from nunet.onboarding import events as onboarding_events
from nunet.orchestrator import events as orchestrator_events
from nunet.peers import events as peers_events
from nunet.replication import events as replication_events


def full_catalogue() -> Catalogue:
    """The catalogue of every event type in nunet."""
    return Catalogue(
        *eventlog_events.EVENTS,
        *actor_events.EVENTS,
        *mesh_events.EVENTS,
        *peers_events.EVENTS,
        *replication_events.EVENTS,
        *onboarding_events.EVENTS,
        *matching_events.EVENTS,
        *executor_events.EVENTS,
        *allocation_events.EVENTS,
        *orchestrator_events.EVENTS,
        *contract_events.EVENTS,
        *ledger_events.EVENTS,
        upcasters=(*eventlog_events.UPCASTERS,),
    )


def known_projections() -> dict[str, Callable[[], Projection[Any]]]:
    """Projections by name, as `nunet events replay --projection NAME` offers them."""
    return {
        LogStatistics.name: LogStatistics,
        PaymentStateProjection.name: PaymentStateProjection,
        LedgerProjection.name: LedgerProjection,
    }
