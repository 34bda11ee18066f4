"""What `contracts` and `payments` behaviors answer: selection, lookup by prefix, a contract's
row, its detail and payment timeline, and the totals per node and counterparty."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from nunet.contracts import ContractError, UnknownContract
from nunet.contracts.events import Role
from nunet.contracts.protocol import ContractQuery
from nunet.contracts.state import PaymentState, PaymentStateProjection
from nunet.contracts.views import (
    contract_detail,
    contract_summary,
    find,
    iso,
    payment_detail,
    payment_timeline,
    payments_summary,
    select,
    short_did,
)
from nunet.eventlog import Event
from nunet.identity import KeyPair
from tests.contracts.payment_story import Story, sealed

NTX = 1_000_000
ME = KeyPair.generate()
ALICE = KeyPair.generate()  # a provider this node pays
BOB = KeyPair.generate()  # a requester that pays this node


def fold(events: list[Event]) -> PaymentState:
    projection = PaymentStateProjection()
    state = projection.initial()
    for record in sealed(events):
        state = projection.evolve(state, record)
    return state


class Book:
    """A node that pays ALICE for two contracts (one in EUR) and is paid by BOB for one."""

    def __init__(self) -> None:
        self.pays = Story(requester=ME, provider=ALICE, deployment="web")
        self.pays_eur = Story(requester=ME, provider=ALICE, deployment="db", currency="EUR")
        self.paid = Story(requester=BOB, provider=ME, deployment="batch", budget=None)
        a, e, b = self.pays, self.pays_eur, self.paid
        self.events: list[Event] = [
            *a.paid_in_full("requester", notes=2),  # spent 2 NTX, settled
            e.proposed(),
            e.accepted("requester"),
            e.activated("requester"),
            e.note("requester", 1, 4 * NTX),
            e.disputed("requester", 1, accepted=3 * NTX),
            e.voucher("requester", 1, 3 * NTX, note_seq=1),  # 1 EUR disputed by us
            b.accepted("provider"),
            b.activated("provider"),
            b.note("provider", 1, NTX),
            b.voucher("provider", 1, NTX, note_seq=1),
            b.note("provider", 2, 5 * NTX // 2),  # 1.5 NTX owed to us
            b.overdue(2, 3 * NTX // 2),
            b.voucher_rejected("=HYPERLINK(lowers the total)"),
            b.redeemed(1, NTX, NTX),
        ]
        self.state = fold(self.events)


@pytest.fixture(scope="module")
def book() -> Book:
    return Book()


# -- select and find -----------------------------------------------------------------------------
def test_select_filters_and_lists_the_newest_first(book: Book) -> None:
    def ids(**query: str) -> list[str]:
        return [r.contract_id for r in select(book.state, ContractQuery(**query))]  # type: ignore[arg-type]

    assert ids() == [book.paid.id, book.pays_eur.id, book.pays.id]
    assert ids(role="requester") == [book.pays_eur.id, book.pays.id]
    assert ids(role="provider") == [book.paid.id]
    assert ids(status="settled") == [book.pays.id]
    assert ids(status="disputed") == [book.pays_eur.id]
    assert ids(status="terminated") == []
    assert ids(counterparty=ALICE.did) == [book.pays_eur.id, book.pays.id]
    assert ids(counterparty=BOB.did[-10:]) == [book.paid.id]  # the end a table shows
    assert ids(deployment="db") == [book.pays_eur.id]
    assert ids(role="requester", deployment="batch") == []


def test_select_refuses_a_status_no_contract_can_have(book: Book) -> None:
    with pytest.raises(ContractError, match="status 'paid' is not one of proposed, accepted"):
        select(book.state, ContractQuery(status="paid"))


def test_find_takes_an_id_or_a_prefix_naming_one_contract() -> None:
    first = Story(contract_id="abcdef01" + "0" * 24)
    second = Story(contract_id="abcdef02" + "0" * 24)
    state = fold([first.proposed(), second.proposed()])
    assert find(state, first.id).contract_id == first.id
    assert find(state, "abcdef02").contract_id == second.id
    with pytest.raises(UnknownContract, match=r"abcdef starts 2 contracts' ids \(abcdef01"):
        find(state, "abcdef")
    with pytest.raises(UnknownContract, match="no contract 123456 on this node"):
        find(state, "123456")


# -- one contract --------------------------------------------------------------------------------
def test_a_summary_row_gives_amounts_formatted_and_in_micro_units(book: Book) -> None:
    row = contract_summary(book.state.contracts[book.paid.id])
    assert row["id"] == book.paid.id[:12]
    assert row["contract_id"] == book.paid.id
    assert (row["role"], row["status"], row["currency"]) == ("provider", "active", "NTX")
    assert row["counterparty"] == short_did(BOB.did)
    assert row["counterparty_did"] == BOB.did
    assert (row["deployment"], row["node"]) == ("batch", "node-1")
    assert (row["noted"], row["noted_micro"]) == ("2.500000", 5 * NTX // 2)
    assert (row["paid"], row["paid_micro"]) == ("1.000000", NTX)
    assert (row["owed"], row["owed_micro"]) == ("1.500000", 3 * NTX // 2)
    assert (row["redeemed"], row["redeemed_micro"]) == ("1.000000", NTX)
    assert (row["budget"], row["budget_micro"]) == ("-", None)
    assert row["ended_at"] is None
    eur = contract_summary(book.state.contracts[book.pays_eur.id])
    assert (eur["currency"], eur["disputed"], eur["owed"]) == ("EUR", "1.000000", "0.000000")
    assert (eur["budget"], eur["budget_micro"]) == ("10.000000", 10 * NTX)
    json.dumps(row)  # plain builtins, ready for the wire


def test_the_detail_shows_the_signed_terms_signatures_and_timestamps(book: Book) -> None:
    detail = contract_detail(book.state.contracts[book.pays.id])
    terms = detail["terms"]
    assert (terms["requester"], terms["provider"]) == (ME.did, ALICE.did)
    assert terms["rates"] == {
        "cpu": 1.5,
        "ram": 0.0,
        "disk": 0.0,
        "gpu": 0.0,
        "wall": 0.5,
        "per_job": 0.0,
    }
    assert (terms["budget"], terms["budget_micro"]) == ("10.000000", 10 * NTX)
    assert (terms["payment_interval"], terms["grace_period"]) == (30.0, 90.0)
    assert terms["termination_notice"] == 5.0
    assert terms["reserved"]["allocations"] == 1
    assert detail["signatures"] == {"requester": True, "provider": True}
    assert detail["digest"] == book.pays.contract.digest.hex()
    stamps = detail["timestamps"]
    assert stamps["proposed"] == iso(1_700_000_001.0) == "2023-11-14T22:13:21.000Z"
    assert stamps["ended"] is not None
    assert detail["status"] == "settled"
    assert [e["kind"] for e in detail["timeline"]] == [
        "debit-note",
        "voucher",
        "debit-note",
        "voucher",
        "settlement",
    ]
    json.dumps(detail)


def test_the_detail_of_a_proposal_shows_one_signature_and_of_a_refusal_no_terms() -> None:
    story = Story()
    proposed = fold([story.proposed()]).contracts[story.id]
    assert contract_detail(proposed)["signatures"] == {"requester": True, "provider": False}
    refused = fold([story.refused("provider")]).contracts[story.id]
    detail = contract_detail(refused)
    assert detail["terms"] is None
    assert detail["signatures"] == {"requester": False, "provider": False}
    assert [e["kind"] for e in detail["timeline"]] == ["termination"]
    assert detail["timeline"][0]["detail"].startswith("refused by us: price under my floor")


def test_the_timeline_is_in_log_order_with_deltas_that_sum_per_kind(book: Book) -> None:
    timeline = payment_timeline(book.state.contracts[book.paid.id])
    assert [(e["kind"], e["seq"], e["amount"]) for e in timeline] == [
        ("debit-note", 1, "1.000000"),
        ("voucher", 1, "1.000000"),
        ("debit-note", 2, "2.500000"),
        ("overdue", 2, "1.500000"),
        ("rejection", None, "0.000000"),
        ("redemption", 1, "1.000000"),
    ]
    positions = [e["log_seq"] for e in timeline]
    assert positions == sorted(positions)
    deltas: dict[str, int] = defaultdict(int)
    latest: dict[str, int] = {}
    for entry in timeline:
        deltas[entry["kind"]] += entry["delta_micro"]
        latest[entry["kind"]] = entry["amount_micro"]
    assert deltas == latest
    assert timeline[2]["delta"] == "1.500000"
    assert timeline[1]["detail"] == "voucher 1 answering note 1"
    assert "rejected: =HYPERLINK(lowers the total)" in timeline[4]["detail"]


def test_a_dispute_and_a_termination_say_what_happened() -> None:
    story = Story()
    events: list[Event] = [
        story.accepted("provider"),
        story.activated("provider"),
        story.note("provider", 1, 2 * NTX),
        story.disputed("provider", 1, accepted=NTX, reason="idle"),
        story.terminated("provider", by=story.requester, reason="enough", paid=NTX),
    ]
    timeline = payment_timeline(fold(events).contracts[story.id])
    assert timeline[1]["detail"] == "note 1 disputed: 1.000000 of 2.000000 refused (idle)"
    assert timeline[1]["amount"] == "1.000000"  # what the requester accepts
    assert timeline[2]["kind"] == "termination"
    assert timeline[2]["detail"].startswith(f"terminated by {short_did(story.requester.did)}: ")


def test_payment_detail_pairs_the_row_with_the_timeline(book: Book) -> None:
    record = book.state.contracts[book.pays_eur.id]
    detail = payment_detail(record)
    assert detail["contract"] == contract_summary(record)
    assert detail["timeline"] == payment_timeline(record)


# -- totals --------------------------------------------------------------------------------------
def test_payments_summary_totals_this_node_and_each_counterparty_per_currency(book: Book) -> None:
    summary = payments_summary(book.state, ContractQuery())
    node = {row["currency"]: row for row in summary["node"]}
    assert set(node) == {"EUR", "NTX"}
    ntx, eur = node["NTX"], node["EUR"]
    assert (ntx["contracts"], ntx["as_provider"], ntx["as_requester"]) == (2, 1, 1)
    assert (ntx["spent_micro"], ntx["owed_by_us_micro"]) == (2 * NTX, 0)
    assert (ntx["earned_micro"], ntx["owed_to_us_micro"]) == (NTX, 3 * NTX // 2)
    assert (ntx["redeemed"], ntx["disputed_to_us_micro"]) == ("1.000000", 0)
    assert (eur["spent"], eur["disputed_by_us"], eur["earned_micro"]) == (
        "3.000000",
        "1.000000",
        0,
    )
    parties = {(row["counterparty_did"], row["currency"]): row for row in summary["counterparties"]}
    assert set(parties) == {(ALICE.did, "NTX"), (ALICE.did, "EUR"), (BOB.did, "NTX")}
    assert parties[(ALICE.did, "NTX")]["spent_micro"] == 2 * NTX
    assert parties[(BOB.did, "NTX")]["owed_to_us"] == "1.500000"
    assert [row["contract_id"] for row in summary["contracts"]] == [
        book.paid.id,
        book.pays_eur.id,
        book.pays.id,
    ]
    json.dumps(summary)


@pytest.mark.parametrize("role", ["requester", "provider"])
def test_payments_summary_follows_the_query(book: Book, role: Role) -> None:
    summary = payments_summary(book.state, ContractQuery(role=role))
    assert {row["role"] for row in summary["contracts"]} == {role}
    counts = sum(row[f"as_{role}"] for row in summary["node"])
    assert counts == len(summary["contracts"])


def test_short_forms() -> None:
    assert short_did(ME.did) == ".." + ME.did[-10:]
    assert short_did("did:x:abc") == "did:x:abc"
    assert iso(None) is None
    assert iso(0.0015) == "1970-01-01T00:00:00.001Z"
