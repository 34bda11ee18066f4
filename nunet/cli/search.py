"""`nunet search`: ask the swarm who can serve a requirement; ranked candidates and why the
other nodes were excluded."""

from __future__ import annotations

from typing import Any

import click

from nunet.api import find_api
from nunet.capability.units import describe_size
from nunet.cli.context import CliContext, emit, local_actor, output_option, pass_context
from nunet.matching import INDEX_QUERY_BEHAVIOR, MATCHING_ACTOR_ID, SEARCH_BEHAVIOR


def _weights(values: tuple[str, ...], option: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in values:
        name, sep, weight = item.partition("=")
        try:
            weights[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: the weight must be a number", param_hint=option
            ) from None
    return weights


def _rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for rank, c in enumerate(answer["candidates"], start=1):
        free = c["free"]
        location = "/".join(v for v in (c["location"]["continent"], c["location"]["country"]) if v)
        rows.append(
            {
                "rank": rank,
                "did": c["did"],
                "score": f"{c['score']:.3f}",
                "cost_per_hour": f"{c['hourly_cost']:.4g} {c['currency']}",
                "free_cpu": f"{free['cpu']:g}",
                "free_ram": describe_size(free["ram"]),
                "free_gpus": len(free["gpus"]),
                "location": location or "-",
            }
        )
    return rows


@click.command("search")
@click.option(
    "--require",
    "-r",
    "requirement",
    required=True,
    help="What the job needs, e.g. cpu=2,ram=4GiB,gpu.vram=24GiB,executor=docker,location=EU.",
)
@click.option(
    "--prefer", multiple=True, help="A soft preference DIMENSION=WEIGHT (price=2, cpu_multi=1)."
)
@click.option("--timeout", default=2.0, show_default=True, help="Seconds a bid round lasts.")
@click.option("--want", type=int, default=None, help="End the round once this many bids are in.")
@click.option(
    "--queue-timeout",
    default=0.0,
    show_default=True,
    help="Seconds to keep asking, with backoff, while nothing fits.",
)
@click.option("--rank", multiple=True, help="Ranker weights NAME=WEIGHT (replace the default).")
@click.option(
    "--index",
    "from_index",
    is_flag=True,
    help="Ask this node's capability index (the swarm's replicated announcements) instead of "
    "the nodes themselves: no bids, no network.",
)
@click.option("--limit", default=10, show_default=True, help="With --index: candidates to show.")
@click.option("--api", default=None, help="API URL or Unix socket path.")
@pass_context
@output_option
def search(
    ctx: CliContext,
    requirement: str,
    prefer: tuple[str, ...],
    timeout: float,
    want: int | None,
    queue_timeout: float,
    rank: tuple[str, ...],
    from_index: bool,
    limit: int,
    api: str | None,
) -> None:
    """Broadcast a bid request; show the ranked candidates and why the others were excluded."""
    spec = requirement
    for dimension, weight in _weights(prefer, "--prefer").items():
        spec += f",prefer.{dimension}={weight:g}"
    payload: dict[str, Any] = {
        "requirement": spec,
        "timeout": timeout,
        "queue_timeout": queue_timeout,
    }
    if want is not None:
        payload["want"] = want
    if rank:
        payload["rankers"] = _weights(rank, "--rank")
    with find_api(ctx.home, api) as client:
        if from_index:
            answer = client.invoke(
                INDEX_QUERY_BEHAVIOR,
                {"requirement": spec, "limit": limit},
                to=local_actor(client, MATCHING_ACTOR_ID),
            )
            answer["declined"] = answer["considered"] - answer["matched"]
            answer["rejected"] = []
            answer["why"] = "no node in the index fits"
        else:
            answer = client.invoke(
                SEARCH_BEHAVIOR,
                payload,
                to=local_actor(client, MATCHING_ACTOR_ID),
                timeout=timeout + queue_timeout + 30.0,
            )
    if ctx.output != "table":
        emit(ctx, answer)
        return
    if answer["candidates"]:
        emit(ctx, _rows(answer))
    else:
        click.echo(f"no node can serve this: {answer['why']}")
    if answer["excluded"]:
        excluded = ", ".join(f"{k}: {v}" for k, v in answer["excluded"].items())
        verb = "left out" if from_index else "declined"
        click.echo(f"excluded ({answer['declined']} {verb}): {excluded}")
    for refused in answer["rejected"]:
        click.echo(f"refused reply from {refused['bidder']}: {refused['reason']}")
    if not answer["candidates"]:
        raise SystemExit(3)
