"""`nunet payments list|show|export`: what this node was charged, paid and owes, per
currency, per counterparty and per contract, and the export for accounting.

The export is rendered here, from the rows the node answers (`nunet.contracts.export`), so
CSV and JSON lines come out the same whichever node is asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nunet.cli.context import (
    CliContext,
    NunetGroup,
    emit,
    output_option,
    pass_context,
    render_table,
)
from nunet.cli.contracts import (
    api_option,
    ask_contracts,
    contract_argument,
    contract_query,
    query_options,
    timeline_rows,
)
from nunet.contracts.export import rows_from_builtins, to_csv, to_jsonl
from nunet.contracts.protocol import (
    PAYMENTS_EXPORT_BEHAVIOR,
    PAYMENTS_LIST_BEHAVIOR,
    PAYMENTS_SHOW_BEHAVIOR,
    ContractAsk,
)

EXPORT_FORMATS = {"csv": to_csv, "jsonl": to_jsonl}


# -- rendering -----------------------------------------------------------------------------------
def render_payments(summary: dict[str, Any]) -> str:
    """`payments list` as text: this node's totals, each counterparty's, then each contract."""
    if not summary["contracts"]:
        return "no contracts, so no payments"
    node = [
        {
            "currency": t["currency"],
            "contracts": t["contracts"],
            "earned": t["earned"],
            "owed_to_us": t["owed_to_us"],
            "disputed_to_us": t["disputed_to_us"],
            "redeemed": t["redeemed"],
            "spent": t["spent"],
            "owed_by_us": t["owed_by_us"],
            "disputed_by_us": t["disputed_by_us"],
        }
        for t in summary["node"]
    ]
    parties = [
        {
            "counterparty": t["counterparty"],
            "currency": t["currency"],
            "contracts": t["contracts"],
            "earned": t["earned"],
            "owed_to_us": t["owed_to_us"],
            "spent": t["spent"],
            "owed_by_us": t["owed_by_us"],
        }
        for t in summary["counterparties"]
    ]
    contracts = [
        {
            "id": row["id"],
            "role": row["role"],
            "counterparty": row["counterparty"],
            "status": row["status"],
            "currency": row["currency"],
            "noted": row["noted"],
            "paid": row["paid"],
            "owed": row["owed"],
            "disputed": row["disputed"],
            "redeemed": row["redeemed"],
        }
        for row in summary["contracts"]
    ]
    sections = [("this node", node), ("by counterparty", parties), ("by contract", contracts)]
    return "\n\n".join(f"{title}:\n{render_table(rows)}" for title, rows in sections)


def render_payment_timeline(answer: dict[str, Any] | list[dict[str, Any]]) -> str:
    """`payments show` as text: the contract's row (when the node sends it), then its steps."""
    # The node answers `views.payment_detail` (the row and the timeline) or the timeline alone.
    timeline = answer["timeline"] if isinstance(answer, dict) else answer
    head = ""
    if isinstance(answer, dict):
        row = answer["contract"]
        head = (
            f"contract {row['contract_id']} ({row['role']}, {row['status']}): "
            f"noted {row['noted']}, paid {row['paid']}, owed {row['owed']}, "
            f"disputed {row['disputed']} {row['currency']}\n\n"
        )
    if not timeline:
        return head + "no payments yet"
    return head + render_table(timeline_rows(timeline))


# -- commands ------------------------------------------------------------------------------------
@click.group("payments", cls=NunetGroup)
def payments() -> None:
    """What this node was charged, paid and owes on its contracts."""


@payments.command("list")
@query_options
@api_option
@pass_context
@output_option
def list_payments(
    ctx: CliContext,
    role: str | None,
    status: str | None,
    counterparty: str | None,
    deployment: str | None,
    api: str | None,
) -> None:
    """Totals per currency for this node and each counterparty, and a row per contract."""
    query = contract_query(role, status, counterparty, deployment)
    summary = ask_contracts(ctx, api, PAYMENTS_LIST_BEHAVIOR, query)
    if ctx.output != "table":
        emit(ctx, summary)
    else:
        click.echo(render_payments(summary))


@payments.command("show")
@contract_argument
@api_option
@pass_context
@output_option
def show(ctx: CliContext, contract: str, api: str | None) -> None:
    """One contract's payments in order: notes, vouchers, disputes, its end and settlement."""
    answer = ask_contracts(ctx, api, PAYMENTS_SHOW_BEHAVIOR, ContractAsk(contract=contract))
    if ctx.output != "table":
        emit(ctx, answer)
    else:
        click.echo(render_payment_timeline(answer))


@payments.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(tuple(EXPORT_FORMATS)),
    default="csv",
    show_default=True,
    help="CSV with a header row, or one JSON object per line.",
)
@click.option(
    "--output",
    "target",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@query_options
@api_option
@pass_context
def export(
    ctx: CliContext,
    fmt: str,
    target: Path | None,
    role: str | None,
    status: str | None,
    counterparty: str | None,
    deployment: str | None,
    api: str | None,
) -> None:
    """Every payment fact for accounting: at, contract, kind, amount (cumulative), delta, ..."""
    query = contract_query(role, status, counterparty, deployment)
    answer = ask_contracts(ctx, api, PAYMENTS_EXPORT_BEHAVIOR, query)
    rows = rows_from_builtins(answer.get("rows") if isinstance(answer, dict) else None)
    text = EXPORT_FORMATS[fmt](rows)
    if target is None:
        click.echo(text, nl=False)
        return
    try:
        target.write_text(text)
    except OSError as exc:
        raise click.FileError(str(target), hint=exc.strerror or str(exc)) from None
    click.echo(f"{len(rows)} rows written to {target}", err=True)
