"""Payments for accounting: one row per payment fact (debit note, voucher, dispute, overdue,
termination, settlement, redemption) of the contracts a query selects, as CSV or JSON lines.

Amounts are decimal text in the contract's currency units (`"1.250000"`), never floats;
`amount` is cumulative within the row's kind and `delta` what the row added to the previous
row of that kind on the same contract, so a kind's deltas sum to its latest amount (what
each kind's amount means: `nunet.contracts.views.PaymentFact`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from nunet.contracts.amount import format_amount
from nunet.contracts.errors import ContractError
from nunet.contracts.protocol import ContractQuery
from nunet.contracts.state import PaymentState, Role
from nunet.contracts.views import LEDGER_KINDS, iso, payment_facts, select


class PaymentRow(msgspec.Struct, frozen=True, kw_only=True):
    """One payment fact, flat. `seq` is the note's or voucher's number (None when the kind
    has none); `log_seq` where the fact sits in this node's log (unique per node)."""

    at: str  # ISO-8601 UTC
    contract_id: str
    role: Role
    counterparty: str
    deployment: str
    node: str
    kind: str
    seq: int | None
    amount: str
    delta: str
    currency: str
    reference: str
    reason: str
    log_seq: int


COLUMNS: tuple[str, ...] = PaymentRow.__struct_fields__
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_rows(state: PaymentState, query: ContractQuery) -> Iterator[PaymentRow]:
    """The payment facts of the contracts `query` selects, in log order."""
    rows: list[tuple[int, PaymentRow]] = []
    for record in select(state, query):
        for fact in payment_facts(record):
            if fact.kind not in LEDGER_KINDS:
                continue
            row = PaymentRow(
                at=iso(fact.at) or "",
                contract_id=record.contract_id,
                role=record.role,
                counterparty=record.counterparty,
                deployment=record.deployment,
                node=record.node,
                kind=fact.kind,
                seq=fact.seq,
                amount=format_amount(fact.amount),
                delta=format_amount(fact.delta),
                currency=record.currency,
                reference=fact.reference,
                reason=fact.reason,
                log_seq=fact.position,
            )
            rows.append((fact.position, row))
    rows.sort(key=lambda pair: pair[0])
    return (row for _, row in rows)


def rows_from_builtins(rows: Any) -> list[PaymentRow]:
    """Rows as the export behavior answers them (a list of dicts) back into `PaymentRow`s;
    ContractError naming the field when the answer is not that."""
    try:
        return msgspec.convert(rows, list[PaymentRow])
    except msgspec.ValidationError as exc:
        raise ContractError(
            f"the node's export answer is not a list of payment rows: {exc}"
        ) from None


def to_csv(rows: Iterable[PaymentRow]) -> str:
    """A header row and one line per row. Free text (reference, reason) that a spreadsheet
    would run as a formula is prefixed with `'`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _text_cell(getattr(row, c))
                if c in ("reference", "reason")
                else _cell(getattr(row, c))
                for c in COLUMNS
            ]
        )
    return out.getvalue()


def to_jsonl(rows: Iterable[PaymentRow]) -> str:
    """One JSON object per line, keys in `COLUMNS` order."""
    return "".join(json.dumps(msgspec.to_builtins(row)) + "\n" for row in rows)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _text_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value
