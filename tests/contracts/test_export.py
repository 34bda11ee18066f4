"""The accounting export: one row per payment fact, CSV and JSON lines that parse back to the
same values, and deltas that sum to each kind's cumulative amount."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import ContractError
from nunet.contracts.export import (
    COLUMNS,
    PaymentRow,
    export_rows,
    rows_from_builtins,
    to_csv,
    to_jsonl,
)
from nunet.contracts.protocol import ContractQuery
from nunet.contracts.state import PaymentState, PaymentStateProjection
from nunet.contracts.views import LEDGER_KINDS
from nunet.eventlog import Event
from nunet.identity import KeyPair
from tests.contracts.payment_story import Story, sealed

NTX = 1_000_000


def fold(events: list[Event]) -> PaymentState:
    projection = PaymentStateProjection()
    state = projection.initial()
    for record in sealed(events):
        state = projection.evolve(state, record)
    return state


ME = KeyPair.generate()
PAYS = Story(requester=ME, deployment="web")
PAID = Story(provider=ME, deployment="batch")
EVENTS: list[Event] = [
    *PAYS.paid_in_full("requester", notes=3, step=1_250_000),
    PAID.accepted("provider"),
    PAID.activated("provider"),
    PAID.note("provider", 1, 2 * NTX),
    PAID.overdue(1, 2 * NTX),
    PAID.disputed("provider", 1, accepted=NTX, reason='said "idle", then =SUM(A1)'),
    PAID.voucher_rejected("lowers the total"),
    PAID.voucher("provider", 1, NTX, note_seq=1),
    PAID.redeemed(1, NTX, NTX),
    PAID.terminated("provider", by=PAID.requester, reason="-stop, now", paid=NTX),
]
STATE = fold(EVENTS)


def test_a_row_per_payment_fact_in_log_order() -> None:
    rows = list(export_rows(STATE, ContractQuery()))
    assert [r.log_seq for r in rows] == sorted(r.log_seq for r in rows)
    assert {r.kind for r in rows} == set(LEDGER_KINDS)  # every kind, and no rejection
    paid = [r for r in rows if r.contract_id == PAID.id]
    assert [(r.kind, r.seq, r.amount, r.delta) for r in paid] == [
        ("debit-note", 1, "2.000000", "2.000000"),
        ("overdue", 1, "2.000000", "2.000000"),
        ("dispute", 1, "1.000000", "1.000000"),
        ("voucher", 1, "1.000000", "1.000000"),
        ("redemption", 1, "1.000000", "1.000000"),
        ("termination", None, "1.000000", "1.000000"),
    ]
    first = paid[0]
    assert (first.role, first.counterparty, first.currency) == (
        "provider",
        PAID.requester.did,
        "NTX",
    )
    assert (first.deployment, first.node) == ("batch", "node-1")
    assert first.at.endswith("Z")
    assert paid[2].reason == 'said "idle", then =SUM(A1)'
    assert paid[2].reference == "note 1"
    assert paid[4].reference.startswith("local:")
    settlement = next(r for r in rows if r.kind == "settlement")
    assert (settlement.amount, settlement.seq) == ("3.750000", 3)


def test_the_query_selects_the_contracts_exported() -> None:
    rows = list(export_rows(STATE, ContractQuery(deployment="web")))
    assert {r.contract_id for r in rows} == {PAYS.id}
    assert [r.kind for r in rows].count("voucher") == 3


def test_deltas_sum_to_each_kinds_cumulative_amount() -> None:
    rows = list(export_rows(STATE, ContractQuery()))
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    last: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        sums[(row.contract_id, row.kind)] += Decimal(row.delta)
        last[(row.contract_id, row.kind)] = Decimal(row.amount)
    assert sums == last
    assert last[(PAYS.id, "voucher")] == Decimal("3.75")


def test_csv_parses_back_to_the_same_values() -> None:
    rows = list(export_rows(STATE, ContractQuery()))
    text = to_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(COLUMNS)
    assert len(parsed) == len(rows)
    for row, back in zip(rows, parsed, strict=True):
        expected = {k: "" if v is None else str(v) for k, v in msgspec.to_builtins(row).items()}
        for text_column in ("reason", "reference"):
            if expected[text_column].startswith(("=", "-")):
                expected[text_column] = "'" + expected[text_column]
        assert back == expected


def test_csv_defuses_free_text_a_spreadsheet_would_run() -> None:
    text = to_csv(export_rows(STATE, ContractQuery(role="provider")))
    reasons = [row["reason"] for row in csv.DictReader(io.StringIO(text))]
    assert "'-stop, now" in reasons
    assert 'said "idle", then =SUM(A1)' in reasons  # not at the start: left alone


def test_jsonl_is_one_object_per_line_with_every_column() -> None:
    rows = list(export_rows(STATE, ContractQuery()))
    lines = to_jsonl(rows).splitlines()
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines, strict=True):
        obj = json.loads(line)
        assert list(obj) == list(COLUMNS)
        assert obj == msgspec.to_builtins(row)
    assert to_jsonl([]) == ""
    assert to_csv([]).splitlines() == [",".join(COLUMNS)]


def test_rows_travel_as_builtins_and_back() -> None:
    rows = list(export_rows(STATE, ContractQuery()))
    wire = json.loads(json.dumps({"rows": msgspec.to_builtins(rows)}))
    assert rows_from_builtins(wire["rows"]) == rows
    with pytest.raises(ContractError, match=r"not a list of payment rows: .*\$\[0\]"):
        rows_from_builtins([{"at": "now"}])


@settings(max_examples=100, deadline=None)
@given(
    notes=st.lists(st.integers(0, 10**12), min_size=1, max_size=8),
    paid_share=st.fractions(0, 1),
)
def test_any_growing_charges_and_payments_export_deltas_that_add_up(
    notes: list[int], paid_share: Fraction
) -> None:
    story = Story(provider=ME)
    charges = sorted(notes)
    events: list[Event] = [story.accepted("provider"), story.activated("provider")]
    for seq, amount in enumerate(charges, 1):
        events.append(story.note("provider", seq, amount))
        events.append(story.voucher("provider", seq, int(amount * paid_share), note_seq=seq))
    rows = list(export_rows(fold(events), ContractQuery()))
    for kind, latest in (("debit-note", charges[-1]), ("voucher", int(charges[-1] * paid_share))):
        of_kind = [r for r in rows if r.kind == kind]
        assert sum(Decimal(r.delta) for r in of_kind) == Decimal(latest) / 1_000_000
        assert Decimal(of_kind[-1].amount) * 1_000_000 == latest
    assert [PaymentRow(**json.loads(line)) for line in to_jsonl(rows).splitlines()] == rows
