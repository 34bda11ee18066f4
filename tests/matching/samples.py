"""Capabilities, requirements and signed replies for the matching tests."""

from __future__ import annotations

import time

from nunet.capability.model import Capability, Gpu, Location, Price, Requirement, Resources
from nunet.identity import KeyPair
from nunet.matching import BidRequest, BidTerms, DeclineTerms

GIB = 1 << 30


def h100(index: int) -> Gpu:
    return Gpu(index=index, vendor="nvidia", model="NVIDIA H100 80GB HBM3", vram=80 * GIB)


def offer(
    *,
    cpu: float = 8,
    ram: int = 32 * GIB,
    gpus: tuple[Gpu, ...] = (),
    price: Price = Price(cpu=0.1, ram=0.01),
    country: str = "DE",
    executors: tuple[str, ...] = ("docker",),
) -> tuple[Capability, Resources]:
    share = Resources(cpu=cpu, ram=ram, disk=100 * GIB, gpus=gpus)
    capability = Capability(
        resources=share,
        executors=executors,
        location=Location(continent="EU", country=country),
        price=price,
    )
    return capability, share


def request(
    orchestrator: KeyPair,
    requirement: Requirement,
    *,
    timeout: float = 2.0,
    now: float | None = None,
) -> BidRequest:
    issued = time.time() if now is None else now
    return BidRequest(
        request_id="r" * 24,
        orchestrator=orchestrator.did,
        reply_actor="matching",
        reply_node=orchestrator.did,
        requirement=requirement,
        issued_at=issued,
        deadline=issued + timeout,
    )


def bid(
    bidder: KeyPair,
    for_request: BidRequest,
    offering: tuple[Capability, Resources],
    *,
    cost: float = 1.0,
    now: float | None = None,
    validity: float = 60.0,
) -> BidTerms:
    issued = for_request.issued_at if now is None else now
    capability, free = offering
    return BidTerms(
        request_id=for_request.request_id,
        bidder=bidder.did,
        actor="matching",
        node=bidder.did,
        capability=capability,
        free=free,
        hourly_cost=cost,
        issued_at=issued,
        valid_until=issued + validity,
    )


def decline(bidder: KeyPair, for_request: BidRequest, *constraints: str) -> DeclineTerms:
    return DeclineTerms(
        request_id=for_request.request_id,
        bidder=bidder.did,
        constraints=constraints,
        issued_at=for_request.issued_at,
    )
