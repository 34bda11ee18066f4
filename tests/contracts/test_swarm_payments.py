"""Contracts and payments across whole nodes (Node.open, the real Docker engine, one in-memory
network): every deployment runs under a contract both parties signed; the provider meters and
notes, the requester pays with vouchers, the provider redeems on its local ledger; when the
requester goes away the provider stops the work after the grace period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from nunet.allocation.events import AllocationStateChanged
from nunet.contracts.actor import ContractsActor
from nunet.contracts.events import (
    ContractAccepted,
    ContractRefused,
    ContractSettled,
    ContractTerminated,
    DebitNoteIssued,
    PaymentOverdue,
    VoucherAccepted,
    VoucherIssued,
)
from nunet.contracts.local_ledger import LedgerRedeemed
from nunet.contracts.protocol import CONTRACTS_ACTOR_ID, USER_TERMINATE_BEHAVIOR
from nunet.node import Node
from nunet.onboarding import ONBOARD_BEHAVIOR, ONBOARDING_ACTOR_ID
from nunet.orchestrator.behaviors import HISTORY_BEHAVIOR, SHUTDOWN_BEHAVIOR
from tests.orchestrator.swarm import (
    WAIT,
    Swarm,
    ask,
    deploy,
    remove_containers,
    settled,
    wait_until,
)
from tests.support.actors import events_of, wait_for_event

PRICE = {"currency": "NTX", "cpu": 3600.0, "ram": 16.0, "per_job": 1.0}

TASK = """
version: nunet/v1
name: paid
allocations:
  work:
    execution:
      image: nunet-test/busybox:1
      command: sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 2; echo done'
    resources: {cpu: 0.5, ram: 64MiB}
nodes:
  n1:
    allocations: [work]
contract:
  currency: NTX
  budget: 1000
  payment_interval: 1s
  grace_period: 2s
"""

SERVICE = """
version: nunet/v1
name: forever
allocations:
  svc:
    type: service
    execution:
      image: nunet-test/busybox:1
      command: sleep 600
    resources: {cpu: 0.25, ram: 64MiB}
nodes:
  n1:
    allocations: [svc]
contract:
  payment_interval: 1s
  grace_period: 1s
"""


@pytest.fixture
async def swarm(tmp_path: Path, busybox_image: str) -> AsyncIterator[Swarm]:
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits)


async def onboard_priced(swarm: Swarm, node: Node) -> None:
    await node.invoke_as_user(
        ONBOARD_BEHAVIOR,
        {"cpu": 1, "ram": "1GiB", "disk": "1GiB", "gpus": "none", "price": PRICE},
        to=node.system.handle_of(ONBOARDING_ACTOR_ID),
        timeout=WAIT,
    )


def contracts_of(node: Node) -> ContractsActor:
    actor = node.system.actor(CONTRACTS_ACTOR_ID)
    assert isinstance(actor, ContractsActor)
    return actor


async def test_a_deployment_is_paid_for_under_a_contract_both_parties_signed_and_settled(
    swarm: Swarm,
) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await swarm.mesh(a, b)
    await onboard_priced(swarm, b)
    deployment = await deploy(a, TASK)
    status = await settled(a, deployment)
    assert status["state"] == "completed", status

    _, on_provider = await wait_for_event(b.log, ContractSettled, timeout=WAIT)
    _, on_requester = await wait_for_event(a.log, ContractSettled, timeout=WAIT)
    assert on_provider.contract_id == on_requester.contract_id
    assert on_provider.amount == on_requester.amount
    assert on_provider.amount >= 1_000_000  # at least the per-job price of 1 NTX
    assert on_provider.reference == on_requester.reference

    accepted_a = await events_of(a.log, ContractAccepted)
    accepted_b = await events_of(b.log, ContractAccepted)
    assert [e.contract for e in accepted_a] == [e.contract for e in accepted_b]  # both signed
    terms = contracts_of(a).deals.by_id[on_requester.contract_id].terms
    assert (terms.requester, terms.provider) == (a.did, b.did)
    assert terms.rates.cpu == PRICE["cpu"]
    assert terms.budget == 1000 * 1_000_000

    notes = await events_of(b.log, DebitNoteIssued)
    assert len(notes) >= 2
    assert notes[-1].final
    assert [n.seq for n in notes] == list(range(1, len(notes) + 1))
    issued = await events_of(a.log, VoucherIssued)
    kept = await events_of(b.log, VoucherAccepted)
    assert [v.voucher for v in issued] == [v.voucher for v in kept]
    assert kept[-1].amount == on_provider.amount == notes[-1].amount

    redeemed = await events_of(b.log, LedgerRedeemed)
    assert redeemed[-1].amount == on_provider.amount
    ledger_balance = await contracts_of(b)._ledger.balance(b.did, "NTX")
    assert ledger_balance == on_provider.amount


async def test_a_provider_whose_floor_is_above_the_offered_price_refuses_the_contract(
    tmp_path: Path, busybox_image: str
) -> None:
    floor = {"contracts": {"floor": {"cpu": 7200.0}}}
    async with AsyncExitStack() as exits:
        swarm = Swarm(tmp_path, exits, floor)
        a, b = await swarm.open("a"), await swarm.open("b")
        await swarm.mesh(a, b)
        await onboard_priced(swarm, b)
        deployment = await deploy(a, TASK, queue_timeout=3)
        status = await settled(a, deployment)
        assert status["state"] != "completed"
        _, refused = await wait_for_event(b.log, ContractRefused, timeout=WAIT)
        assert "rates under this node's floor: cpu 3600 < 7200" in refused.reason
        _, told = await wait_for_event(a.log, ContractRefused, timeout=WAIT)
        assert told.contract_id == refused.contract_id
        history = await ask(a, HISTORY_BEHAVIOR, {"deployment": deployment})
        assert any("floor" in e["summary"] for e in history["entries"]), history


async def test_when_the_requester_disappears_the_provider_stops_the_work_after_the_grace_period(
    swarm: Swarm,
) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await swarm.mesh(a, b)
    await onboard_priced(swarm, b)
    deployment = await deploy(a, SERVICE)
    await wait_until(a, deployment, lambda s: s["state"] == "running", "running")
    await wait_for_event(b.log, VoucherAccepted, timeout=WAIT)
    paid = max(e.amount for e in await events_of(a.log, VoucherIssued))
    await a.close()  # the requester goes away, mid-contract

    _, overdue = await wait_for_event(b.log, PaymentOverdue, timeout=WAIT)
    _, ended = await wait_for_event(b.log, ContractTerminated, timeout=WAIT)
    assert ended.by == b.did
    assert "grace period" in ended.reason
    assert ended.paid >= paid  # what was paid stays paid
    assert overdue.owed > 0
    _, redeemed = await wait_for_event(b.log, LedgerRedeemed, timeout=WAIT)
    assert redeemed.amount == ended.paid
    _, stopped = await wait_for_event(
        b.log, AllocationStateChanged, lambda e: e.state == "stopped", timeout=WAIT
    )
    assert "grace period" in stopped.error
    deal = contracts_of(b).deals.by_id[ended.contract_id]
    assert deal.status == "terminated"
    await remove_containers(b.did)


async def test_a_requester_terminating_its_contract_stops_the_work_and_pays_for_what_was_done(
    swarm: Swarm,
) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await swarm.mesh(a, b)
    await onboard_priced(swarm, b)
    deployment = await deploy(a, SERVICE)
    await wait_until(a, deployment, lambda s: s["state"] == "running", "running")
    _, accepted = await wait_for_event(a.log, ContractAccepted, timeout=WAIT)
    await wait_for_event(b.log, VoucherAccepted, timeout=WAIT)

    shown = await a.invoke_as_user(
        USER_TERMINATE_BEHAVIOR,
        {"contract": accepted.contract_id[:8], "reason": "no longer needed"},
        to=a.system.handle_of(CONTRACTS_ACTOR_ID),
        timeout=WAIT,
    )
    assert shown["status"] == "terminated"
    _, told = await wait_for_event(b.log, ContractTerminated, timeout=WAIT)
    assert told.by == a.did
    assert told.reason == "no longer needed"
    _, stopped = await wait_for_event(
        b.log, AllocationStateChanged, lambda e: e.state == "stopped", timeout=WAIT
    )
    assert "was terminated" in stopped.error
    _, final = await wait_for_event(b.log, DebitNoteIssued, lambda e: e.final, timeout=WAIT)
    _, redeemed = await wait_for_event(
        b.log, LedgerRedeemed, lambda e: e.amount == final.amount, timeout=WAIT
    )
    issued = await events_of(a.log, VoucherIssued)
    assert issued[-1].amount == redeemed.amount  # the work done until the end, paid in full
    await wait_until(
        a,
        deployment,
        lambda s: s["allocations"]["svc"]["state"] in ("stopped", "failed", "released"),
        "the service stopped on its provider",
    )
    await ask(a, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    await remove_containers(b.did)
