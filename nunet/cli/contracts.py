"""`nunet contracts list|show|terminate`: the running node's contracts, as requester (the
deployments it pays for) and as provider (the work it is paid for).

The node answers with `nunet.contracts.views` dicts; json and yaml print them whole, the table
output picks the columns that fit a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click
import msgspec

from nunet.api import find_api
from nunet.cli.context import (
    CliContext,
    NunetGroup,
    emit,
    local_actor,
    output_option,
    pass_context,
    render_table,
)
from nunet.contracts.lifecycle import STATUSES
from nunet.contracts.protocol import (
    CONTRACTS_ACTOR_ID,
    LIST_BEHAVIOR,
    SHOW_BEHAVIOR,
    USER_TERMINATE_BEHAVIOR,
    ContractAsk,
    ContractQuery,
)

CALL_TIMEOUT = 30.0
TERMINATE_TIMEOUT = 60.0  # the node tells the counterparty before it answers
F = TypeVar("F", bound=Callable[..., Any])

api_option = click.option("--api", default=None, help="API URL or Unix socket path.")
_CONTRACT_ID = re.compile(r"[0-9a-f]{6,32}")


def _contract_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    text = value.strip().lower()
    if not _CONTRACT_ID.fullmatch(text):
        raise click.BadParameter(
            f"{value!r} is not a contract id: give its first 6 to 32 hex digits, "
            "as `nunet contracts list` shows them"
        )
    return text


contract_argument = click.argument("contract", callback=_contract_id)


def query_options(command: F) -> F:
    """`--role`, `--status`, `--counterparty`, `--deployment`: the filters of a ContractQuery."""
    for option in reversed(
        (
            click.option(
                "--role",
                type=click.Choice(("requester", "provider")),
                default=None,
                help="Only contracts this node pays for (requester) or is paid for (provider).",
            ),
            click.option(
                "--status", type=click.Choice(STATUSES), default=None, help="Only this status."
            ),
            click.option(
                "--counterparty",
                default=None,
                help="Only contracts with this peer (its DID, or the end of it a table shows).",
            ),
            click.option("--deployment", default=None, help="Only this deployment's contracts."),
        )
    ):
        command = option(command)
    return command


def contract_query(
    role: str | None, status: str | None, counterparty: str | None, deployment: str | None
) -> ContractQuery:
    """The query the filters ask; click.BadParameter naming the option that is out of bounds."""
    given = {
        "role": role or "",
        "status": status or "",
        "counterparty": counterparty or "",
        "deployment": deployment or "",
    }
    try:
        return msgspec.convert(given, ContractQuery)
    except msgspec.ValidationError as exc:
        field = re.search(r"\$\.(\w+)", str(exc))
        hint = f"'--{field.group(1)}'" if field else None
        raise click.BadParameter(str(exc).split(" - at ")[0], param_hint=hint) from None


def ask_contracts(ctx: CliContext, api: str | None, behavior: str, payload: Any) -> Any:
    """`behavior` of this node's contracts actor, with `payload` (a msgspec Struct)."""
    timeout = TERMINATE_TIMEOUT if behavior == USER_TERMINATE_BEHAVIOR else CALL_TIMEOUT
    with find_api(ctx.home, api) as client:
        return client.invoke(
            behavior,
            msgspec.to_builtins(payload),
            to=local_actor(client, CONTRACTS_ACTOR_ID),
            timeout=timeout,
        )


# -- rendering -----------------------------------------------------------------------------------
def contract_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`contracts list` as a table: the columns that fit a terminal."""
    return [
        {
            "id": row["id"],
            "role": row["role"],
            "counterparty": row["counterparty"],
            "deployment": f"{row['deployment']}/{row['node']}",
            "status": row["status"],
            "currency": row["currency"],
            "noted": row["noted"],
            "paid": row["paid"],
            "owed": row["owed"],
            "budget": row["budget"],
        }
        for row in rows
    ]


def timeline_rows(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "at": entry["at"],
            "kind": entry["kind"],
            "seq": "-" if entry["seq"] is None else entry["seq"],
            "amount": entry["amount"],
            "delta": entry["delta"],
            "detail": entry["detail"],
        }
        for entry in timeline
    ]


def render_contract(detail: dict[str, Any]) -> str:
    """`contracts show` as text: the contract's facts, then its payment timeline."""
    terms = detail["terms"]
    stamps = detail["timestamps"]
    pay = detail["payments"]
    facts: dict[str, Any] = {
        "contract": detail["contract_id"],
        "status": detail["status"],
        "role": detail["role"],
        "counterparty": detail["counterparty"],
        "deployment": f"{detail['deployment']}/{detail['node']}",
    }
    if terms is None:
        facts["terms"] = "none kept (this node refused the proposal)"
    elif "error" in terms:
        facts["terms"] = terms["error"]
    else:
        currency = terms["currency"]
        rates = [f"{name} {rate:g}" for name, rate in terms["rates"].items() if rate]
        facts["rates"] = f"{', '.join(rates) or 'free'} ({currency} per hour; per_job per run)"
        facts["budget"] = (
            terms["budget"] if terms["budget_micro"] is None else (f"{terms['budget']} {currency}")
        )
        facts["interval"] = (
            f"note every {terms['payment_interval']:g}s, grace {terms['grace_period']:g}s, "
            f"notice {terms['termination_notice']:g}s"
        )
        reserved = terms["reserved"]
        facts["reserved"] = (
            f"cpu {reserved['cpu']:g}, ram {reserved['ram']} B, disk {reserved['disk']} B, "
            f"gpus {reserved['gpus']}, allocations {reserved['allocations']}"
        )
        facts["channel"] = terms["channel"]
    signed = detail["signatures"]
    facts["signed by"] = ", ".join(p for p in ("requester", "provider") if signed[p]) or "nobody"
    for name in ("proposed", "accepted", "activated", "ended"):
        facts[name] = stamps[name] or "-"
    for name in ("noted", "paid", "owed", "disputed", "redeemed"):
        facts[name] = pay[name]
    rejections = detail["rejections"]
    if rejections["count"]:
        last = rejections["last"][-1]
        facts["rejected"] = f"{rejections['count']} (last: {last['kind']}: {last['reason']})"
    anomalies = detail["anomalies"]
    if anomalies["count"]:
        facts["anomalies"] = f"{anomalies['count']} (last: {anomalies['last'][-1]['what']})"
    text = render_table(facts)
    if detail["timeline"]:
        text += "\n\n" + render_table(timeline_rows(detail["timeline"]))
    return text


# -- commands ------------------------------------------------------------------------------------
@click.group("contracts", cls=NunetGroup)
def contracts() -> None:
    """This node's contracts: the work it pays for and the work it is paid for."""


@contracts.command("list")
@query_options
@api_option
@pass_context
@output_option
def list_contracts(
    ctx: CliContext,
    role: str | None,
    status: str | None,
    counterparty: str | None,
    deployment: str | None,
    api: str | None,
) -> None:
    """Contracts (newest first) with what was charged, paid and is owed on each."""
    query = contract_query(role, status, counterparty, deployment)
    rows = ask_contracts(ctx, api, LIST_BEHAVIOR, query)
    if ctx.output != "table":
        emit(ctx, rows)
    elif not rows:
        click.echo("no contracts" + (" match" if query != ContractQuery() else " yet"))
    else:
        click.echo(render_table(contract_rows(rows)))


@contracts.command("show")
@contract_argument
@api_option
@pass_context
@output_option
def show(ctx: CliContext, contract: str, api: str | None) -> None:
    """One contract: its signed terms, who signed, when it moved, every payment step."""
    detail = ask_contracts(ctx, api, SHOW_BEHAVIOR, ContractAsk(contract=contract))
    if ctx.output != "table":
        emit(ctx, detail)
    else:
        click.echo(render_contract(detail))


@contracts.command("terminate")
@contract_argument
@click.option("--reason", default="", help="Why, as the counterparty is told (1024 characters).")
@api_option
@pass_context
@output_option
def terminate(ctx: CliContext, contract: str, reason: str, api: str | None) -> None:
    """End a contract now: its work stops after the notice, what was paid stays paid."""
    if len(reason) > 1024:
        raise click.BadParameter(
            f"is {len(reason)} characters long; 1024 at most", param_hint="'--reason'"
        )
    detail = ask_contracts(
        ctx, api, USER_TERMINATE_BEHAVIOR, ContractAsk(contract=contract, reason=reason)
    )
    if ctx.output != "table":
        emit(ctx, detail)
    else:
        click.echo(render_contract(detail))
