"""What `nunet contracts` and `nunet payments` are answered: `PaymentState` as plain dicts and
lists of builtins (JSON, YAML and table ready).

Amounts appear twice: formatted in the contract's currency units (`"1.250000"`) and as raw
micro-units (`*_micro`), so a person reads one and a program sums the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from nunet.contracts.amount import format_amount
from nunet.contracts.documents import contract_terms
from nunet.contracts.errors import BadDocument, ContractError, UnknownContract
from nunet.contracts.lifecycle import STATUSES
from nunet.contracts.protocol import ContractQuery
from nunet.contracts.state import ContractRecord, PaymentState

SHORT_ID = 12
LEDGER_KINDS = (
    "debit-note",
    "voucher",
    "dispute",
    "overdue",
    "termination",
    "settlement",
    "redemption",
)
"""The kinds of payment fact an accounting export holds (a timeline adds rejections)."""


class PaymentFact(msgspec.Struct, frozen=True, kw_only=True):
    """One payment step of a contract, where it sits in the log.

    `amount` is cumulative within its `kind` and `delta` what this fact added to the previous
    one of the same kind, so a kind's deltas sum to its latest amount. By kind, `amount` is:
    debit-note, what was charged in all; voucher, what was promised in all; dispute, what the
    requester accepts the disputed note's work cost; overdue, what was owed past the grace
    period; termination, what was paid by the end; settlement, what was paid in all;
    redemption, what the ledger redeemed in all; rejection, 0.
    """

    position: int
    at: float
    kind: str
    seq: int | None
    amount: int
    delta: int
    reference: str
    reason: str
    detail: str


# -- finding contracts ---------------------------------------------------------------------------
def select(state: PaymentState, query: ContractQuery) -> list[ContractRecord]:
    """The contracts `query` matches, newest first. `counterparty` matches any DID holding the
    text (a whole DID, or the end `contracts list` shows); ContractError for an unknown status."""
    if query.status and query.status not in STATUSES:
        raise ContractError(
            f"status {query.status!r} is not one of {', '.join(STATUSES)}; "
            "leave it out for every status"
        )
    found = [
        record
        for record in state.contracts.values()
        if (not query.role or record.role == query.role)
        and (not query.status or record.status == query.status)
        and (not query.counterparty or query.counterparty in record.counterparty)
        and (not query.deployment or record.deployment == query.deployment)
    ]
    found.sort(key=lambda record: record.opened, reverse=True)
    return found


def find(state: PaymentState, prefix: str) -> ContractRecord:
    """The contract whose id is or starts with `prefix`; UnknownContract when none or several."""
    exact = state.contracts.get(prefix)
    if exact is not None:
        return exact
    candidates = sorted(cid for cid in state.contracts if cid.startswith(prefix))
    if not candidates:
        raise UnknownContract(
            f"no contract {prefix} on this node; `nunet contracts list` shows the ones it has"
        )
    if len(candidates) > 1:
        shown = ", ".join(candidates[:5]) + (", ..." if len(candidates) > 5 else "")
        raise UnknownContract(
            f"{prefix} starts {len(candidates)} contracts' ids ({shown}); give more of the id"
        )
    return state.contracts[candidates[0]]


# -- one contract --------------------------------------------------------------------------------
def contract_summary(record: ContractRecord) -> dict[str, Any]:
    """A row of `contracts list` and `payments list`."""
    return {
        "id": record.contract_id[:SHORT_ID],
        "contract_id": record.contract_id,
        "role": record.role,
        "counterparty": short_did(record.counterparty),
        "counterparty_did": record.counterparty,
        "deployment": record.deployment,
        "node": record.node,
        "status": record.status,
        "currency": record.currency or "-",
        **_amounts(
            noted=record.noted,
            paid=record.paid,
            owed=record.owed,
            disputed=record.disputed,
            redeemed=record.redeemed,
        ),
        "budget": "-" if record.budget is None else format_amount(record.budget),
        "budget_micro": record.budget,
        "proposed_at": iso(record.proposed_at),
        "ended_at": iso(record.ended_at),
        "anomalies": record.anomaly_count,
    }


def contract_detail(record: ContractRecord) -> dict[str, Any]:
    """`contracts show`: the terms as signed, who signed, when it moved, and every payment step."""
    contract = record.contract
    return {
        "contract_id": record.contract_id,
        "role": record.role,
        "status": record.status,
        "counterparty": record.counterparty,
        "deployment": record.deployment,
        "node": record.node,
        "terms": _terms(record),
        "signatures": {
            "requester": contract is not None and bool(contract.requester_signature),
            "provider": contract is not None and bool(contract.provider_signature),
        },
        "digest": "" if contract is None else contract.digest.hex(),
        "timestamps": {
            "proposed": iso(record.proposed_at),
            "accepted": iso(record.accepted_at),
            "activated": iso(record.activated_at),
            "ended": iso(record.ended_at),
        },
        "payments": _amounts(
            noted=record.noted,
            paid=record.paid,
            owed=record.owed,
            disputed=record.disputed,
            redeemed=record.redeemed,
        ),
        "rejections": {
            "count": record.rejections.count,
            "last": [
                {"at": iso(r.at), "kind": r.kind, "sender": r.sender, "reason": r.reason}
                for r in record.rejections.last
            ],
        },
        "anomalies": {
            "count": record.anomaly_count,
            "last": [
                {"at": iso(a.at), "log_seq": a.position, "type": a.type, "what": a.what}
                for a in record.anomalies
            ],
        },
        "timeline": payment_timeline(record),
    }


def payment_detail(record: ContractRecord) -> dict[str, Any]:
    """`payments show`: the contract's row and its payment timeline."""
    return {"contract": contract_summary(record), "timeline": payment_timeline(record)}


def payment_timeline(record: ContractRecord) -> list[dict[str, Any]]:
    """Every payment step of the contract, in log order."""
    return [
        {
            "at": iso(fact.at),
            "log_seq": fact.position,
            "kind": fact.kind,
            "seq": fact.seq,
            "amount": format_amount(fact.amount),
            "amount_micro": fact.amount,
            "delta": format_amount(fact.delta),
            "delta_micro": fact.delta,
            "detail": fact.detail,
        }
        for fact in payment_facts(record)
    ]


def payment_facts(record: ContractRecord) -> list[PaymentFact]:
    """The contract's payment facts in log order (see `PaymentFact` for amount and delta)."""
    facts: list[PaymentFact] = []

    def fact(
        position: int,
        at: float,
        kind: str,
        seq: int | None,
        amount: int,
        *,
        detail: str,
        reference: str = "",
        reason: str = "",
    ) -> None:
        facts.append(
            PaymentFact(
                position=position,
                at=at,
                kind=kind,
                seq=seq,
                amount=amount,
                delta=0,  # filled in once the facts are in log order
                reference=reference,
                reason=reason,
                detail=detail,
            )
        )

    for n in record.notes:
        final = " (final)" if n.final else ""
        fact(n.position, n.at, "debit-note", n.seq, n.amount, detail=f"note {n.seq}{final}")
    for v in record.vouchers:
        answers = f"note {v.note_seq}" if v.note_seq else ""
        detail = f"voucher {v.seq}" + (f" answering {answers}" if answers else "")
        fact(v.position, v.at, "voucher", v.seq, v.amount, reference=answers, detail=detail)
    for d in record.disputes:
        resolved = "" if d.resolved_at is None else f"; resolved {iso(d.resolved_at)}"
        detail = (
            f"note {d.note_seq} disputed: {format_amount(d.refused)} of "
            f"{format_amount(d.noted)} refused ({d.reason}){resolved}"
        )
        ref = f"note {d.note_seq}"
        fact(
            d.position,
            d.at,
            "dispute",
            d.note_seq,
            d.accepted,
            reference=ref,
            reason=d.reason,
            detail=detail,
        )
    for o in record.overdue:
        detail = f"note {o.note_seq} unpaid past {iso(o.due_at)}: {format_amount(o.owed)} owed"
        ref = f"note {o.note_seq}"
        fact(o.position, o.at, "overdue", o.note_seq, o.owed, reference=ref, detail=detail)
    if (t := record.termination) is not None:
        who = "us" if t.by_us else short_did(t.by)
        verb = "refused" if t.refused else "terminated"
        reason = f"refused: {t.reason}" if t.refused else t.reason
        detail = f"{verb} by {who}: {t.reason} (effective {iso(t.effective_at)})"
        fact(t.position, t.at, "termination", None, t.paid, reason=reason, detail=detail)
    if (s := record.settlement) is not None:
        detail = f"settled with voucher {s.voucher_seq} on {s.ledger} ({s.reference})"
        ref = s.reference
        fact(s.position, s.at, "settlement", s.voucher_seq, s.amount, reference=ref, detail=detail)
    for r in record.redemptions:
        detail = f"voucher {r.voucher_seq} redeemed: {format_amount(r.credited)} credited"
        seq = r.voucher_seq or None
        fact(r.position, r.at, "redemption", seq, r.amount, reference=r.reference, detail=detail)
    for j in record.rejections.last:
        detail = f"{j.kind} from {short_did(j.sender)} rejected: {j.reason}"
        fact(j.position, j.at, "rejection", None, 0, reason=j.reason, detail=detail)
    facts.sort(key=lambda f: f.position)
    previous: dict[str, int] = {}
    for i, f in enumerate(facts):
        facts[i] = msgspec.structs.replace(f, delta=f.amount - previous.get(f.kind, 0))
        previous[f.kind] = f.amount
    return facts


# -- many contracts ------------------------------------------------------------------------------
_TOTALS = (
    "earned",
    "owed_to_us",
    "disputed_to_us",
    "redeemed",
    "spent",
    "owed_by_us",
    "disputed_by_us",
)


def payments_summary(state: PaymentState, query: ContractQuery) -> dict[str, Any]:
    """`payments list`: this node's totals per currency, each counterparty's, and a row per
    contract. As provider: earned (paid to us), owed to us, disputed (refused by the
    requester), redeemed; as requester: spent, owed by us, disputed (refused by us)."""
    records = select(state, query)
    node: dict[str, dict[str, int]] = {}
    counterparties: dict[tuple[str, str], dict[str, int]] = {}
    for record in records:
        currency = record.currency or "-"
        for totals in (
            node.setdefault(currency, _zero()),
            counterparties.setdefault((record.counterparty, currency), _zero()),
        ):
            _add(totals, record)
    return {
        "node": [_totals_row({"currency": c}, t) for c, t in sorted(node.items())],
        "counterparties": [
            _totals_row({"counterparty": short_did(did), "counterparty_did": did, "currency": c}, t)
            for (did, c), t in sorted(counterparties.items())
        ],
        "contracts": [contract_summary(record) for record in records],
    }


def _zero() -> dict[str, int]:
    return dict.fromkeys(("contracts", "as_provider", "as_requester", *_TOTALS), 0)


def _add(totals: dict[str, int], record: ContractRecord) -> None:
    totals["contracts"] += 1
    if record.role == "provider":
        totals["as_provider"] += 1
        totals["earned"] += record.paid
        totals["owed_to_us"] += record.owed
        totals["disputed_to_us"] += record.disputed
        totals["redeemed"] += record.redeemed
    else:
        totals["as_requester"] += 1
        totals["spent"] += record.paid
        totals["owed_by_us"] += record.owed
        totals["disputed_by_us"] += record.disputed


def _totals_row(head: dict[str, Any], totals: dict[str, int]) -> dict[str, Any]:
    counts = {k: totals[k] for k in ("contracts", "as_provider", "as_requester")}
    return {**head, **counts, **_amounts(**{k: totals[k] for k in _TOTALS})}


# -- formatting ----------------------------------------------------------------------------------
def _amounts(**amounts: int) -> dict[str, Any]:
    formatted: dict[str, Any] = {name: format_amount(v) for name, v in amounts.items()}
    return formatted | {f"{name}_micro": v for name, v in amounts.items()}


def _terms(record: ContractRecord) -> dict[str, Any] | None:
    if record.contract is None:
        return None
    try:
        terms = contract_terms(record.contract)
    except BadDocument as exc:
        return {"error": str(exc)}
    return {
        "requester": terms.requester,
        "provider": terms.provider,
        "channel": terms.channel,
        "currency": terms.currency,
        "rates": msgspec.to_builtins(terms.rates),
        "budget": "-" if terms.budget is None else format_amount(terms.budget),
        "budget_micro": terms.budget,
        "payment_interval": terms.payment_interval,
        "grace_period": terms.grace_period,
        "termination_notice": terms.termination_notice,
        "reserved": msgspec.to_builtins(terms.reserved),
        "proposed_at": iso(terms.proposed_at),
    }


def short_did(did: str) -> str:
    """The end of a DID, enough to tell a node's counterparties apart in a table."""
    return did if len(did) <= 16 else ".." + did[-10:]


def iso(at: float | None) -> str | None:
    """Seconds since the epoch as ISO-8601 UTC to the millisecond (None stays None)."""
    if at is None:
        return None
    stamp = datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
