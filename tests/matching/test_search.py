"""Search across nodes on one in-memory network: bids, declines, forgeries, queueing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from nunet.actor import Actor, RemoteError
from nunet.capability.model import Price, Requirement
from nunet.matching import (
    BID_BEHAVIOR,
    MATCHING_ACTOR_ID,
    REQUEST_BEHAVIOR,
    REQUESTS_TOPIC,
    SEARCH_BEHAVIOR,
    BidRefused,
    BidSent,
    Declined,
    MatchingActor,
    Offering,
    Queued,
    RequestRefused,
    RoundCompleted,
    SignedReply,
    sign_reply,
)
from nunet.network import InMemoryNetwork
from tests.matching.samples import bid, h100, offer, request
from tests.support.actors import NodeUnderTest, events_of, running_node, wait_for_event

WAIT = 10.0


class Client(Actor):
    """Stands in for the node's user (same key as the node, so no capability is needed)."""

    kind = "client"


@dataclass
class Market:
    """Four nodes, each with a matching actor whose offering the test controls."""

    nodes: list[NodeUnderTest]
    offerings: list[Offering | None]
    clients: list[Client] = field(default_factory=list)

    def matching(self, i: int) -> Any:
        return self.nodes[i].system.handle_of(MATCHING_ACTOR_ID)

    async def search(self, payload: dict[str, Any], *, by: int = 0) -> Any:
        return await self.clients[by].invoke(
            self.matching(by), SEARCH_BEHAVIOR, payload, timeout=WAIT
        )


def offering_of(market_offerings: list[Offering | None], i: int) -> Callable[[], Offering | None]:
    return lambda: market_offerings[i]


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[Market]:
    network = InMemoryNetwork()
    offerings: list[Offering | None] = [None, None, None, None]
    async with AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(running_node(network, tmp_path / f"n{i}"))
            for i in range(4)
        ]
        built = Market(nodes, offerings)
        for i, node in enumerate(nodes):
            await node.system.spawn(
                MatchingActor(offering=offering_of(offerings, i), expected=lambda: 4),
                MATCHING_ACTOR_ID,
            )
            client = Client()
            await node.system.spawn(client, "client")
            built.clients.append(client)
        yield built


async def test_a_search_ranks_the_nodes_that_fit_and_says_why_the_others_do_not(
    market: Market,
) -> None:
    market.offerings[1] = offer(price=Price(cpu=0.1))
    market.offerings[2] = offer(price=Price(cpu=1.0))
    market.offerings[3] = offer(cpu=1)  # too small
    answer = await market.search({"requirement": "cpu=2,ram=4GiB", "timeout": WAIT})
    assert answer["matched"]
    assert [c["did"] for c in answer["candidates"]] == [
        market.nodes[1].key.did,
        market.nodes[2].key.did,
    ]
    assert answer["declined"] == 2
    assert answer["excluded"] == {"onboarded": 1, "cpu": 1}
    assert answer["rejected"] == []
    assert answer["candidates"][0]["hourly_cost"] == pytest.approx(0.2)
    _, completed = await wait_for_event(market.nodes[0].log, RoundCompleted, timeout=WAIT)
    assert completed.candidates == [c["did"] for c in answer["candidates"]]
    _, sent = await wait_for_event(market.nodes[1].log, BidSent, timeout=WAIT)
    assert sent.orchestrator == market.nodes[0].key.did
    _, declined = await wait_for_event(market.nodes[3].log, Declined, timeout=WAIT)
    assert declined.constraints == ["cpu"]


async def test_gpus_are_matched_device_by_device(market: Market) -> None:
    market.offerings[1] = offer(gpus=(h100(0),))
    market.offerings[2] = offer(gpus=(h100(0), h100(1)))
    answer = await market.search(
        {"requirement": {"cpu": 2, "gpus": [{"vram": "40GiB"}, {"vram": "40GiB"}]}, "timeout": WAIT}
    )
    assert [c["did"] for c in answer["candidates"]] == [market.nodes[2].key.did]
    assert sorted(answer["candidates"][0]["gpus"]) == [0, 1]
    assert answer["excluded"]["gpus"] == 1


async def test_nothing_fits_says_which_constraint_excluded_how_many(market: Market) -> None:
    market.offerings[1] = offer()
    market.offerings[2] = offer()
    answer = await market.search({"requirement": "cpu=2,ram=4GiB,gpu.vram=24GiB"})
    assert not answer["matched"]
    assert answer["excluded"] == {"onboarded": 2, "gpus": 2}
    assert answer["why"] == "4 node(s) declined (onboarded: 2, gpus: 2)"


async def test_a_queued_search_asks_again_until_a_node_can_serve(market: Market) -> None:
    search = market.nodes[0]
    payload = {"requirement": "cpu=2", "timeout": 0.2, "queue_timeout": WAIT}
    pending = market.clients[0].invoke(market.matching(0), SEARCH_BEHAVIOR, payload, timeout=WAIT)
    task = asyncio.ensure_future(pending)
    await wait_for_event(search.log, Queued, timeout=WAIT)
    market.offerings[2] = offer()
    answer = await task
    assert answer["matched"]
    assert answer["attempts"] >= 2
    assert [c["did"] for c in answer["candidates"]] == [market.nodes[2].key.did]


async def test_a_bad_requirement_is_refused_naming_the_field(market: Market) -> None:
    with pytest.raises(RemoteError) as refused:
        await market.search({"requirement": "cpu=2,ram=4G"})
    assert refused.value.code == "invalid-requirement"
    assert "ram" in str(refused.value)
    assert "4GiB" in str(refused.value)


async def test_a_request_claiming_another_orchestrator_is_refused_unanswered(
    market: Market,
) -> None:
    market.offerings[1] = offer()
    victim = market.nodes[0].key
    forged = request(victim, Requirement(cpu=1))
    await market.clients[3].publish(REQUESTS_TOPIC, REQUEST_BEHAVIOR, forged)
    _, refused = await wait_for_event(market.nodes[1].log, RequestRefused, timeout=WAIT)
    assert refused.sender == market.nodes[3].key.did
    assert "claims orchestrator" in refused.reason
    assert await events_of(market.nodes[1].log, BidSent) == []


async def test_a_malformed_request_is_logged_and_ignored(market: Market) -> None:
    await market.clients[3].publish(REQUESTS_TOPIC, REQUEST_BEHAVIOR, {"request_id": 7})
    _, refused = await wait_for_event(market.nodes[1].log, RequestRefused, timeout=WAIT)
    assert "malformed request" in refused.reason


async def test_forged_and_unsolicited_bids_are_refused_and_logged(market: Market) -> None:
    orchestrator, forger = market.nodes[0], market.nodes[3]
    some_request = request(orchestrator.key, Requirement(cpu=1))
    genuine = sign_reply(bid(forger.key, some_request, offer()), forger.key)
    # A bid for a round that is not open (stale, or meant for someone else's request).
    await market.clients[3].send(market.matching(0), BID_BEHAVIOR, genuine)
    _, unsolicited = await wait_for_event(orchestrator.log, BidRefused, timeout=WAIT)
    assert unsolicited.reason == "no open bid round has this request id"
    # A bid whose signature is not its bidder's.
    bad = msgspec.structs.replace(genuine, signature=bytes(64))
    await market.clients[3].send(market.matching(0), BID_BEHAVIOR, bad)
    _, forged = await wait_for_event(
        orchestrator.log, BidRefused, lambda e: "signature" in e.reason, timeout=WAIT
    )
    assert forged.sender == forger.key.did
    # Bids on behalf of another node.
    other = market.nodes[1].key
    stolen: SignedReply = sign_reply(bid(other, some_request, offer()), other)
    await market.clients[3].send(market.matching(0), BID_BEHAVIOR, stolen)
    _, impersonation = await wait_for_event(
        orchestrator.log, BidRefused, lambda e: "only bid for itself" in e.reason, timeout=WAIT
    )
    assert impersonation.sender == forger.key.did
    # The forged and the impersonating replies count against the forger; the unsolicited one,
    # which a round that just closed would also produce, does not.
    matching = orchestrator.system.actor(MATCHING_ACTOR_ID)
    assert isinstance(matching, MatchingActor)
    assert matching.failures.count(forger.key.did) == 2


async def test_a_request_past_its_deadline_is_not_answered(market: Market) -> None:
    market.offerings[1] = offer()
    late = request(market.nodes[2].key, Requirement(cpu=1), timeout=1.0, now=time.time() - 60)
    await market.clients[2].publish(REQUESTS_TOPIC, REQUEST_BEHAVIOR, late)
    _, refused = await wait_for_event(market.nodes[1].log, RequestRefused, timeout=WAIT)
    assert refused.reason == "request past its deadline"
