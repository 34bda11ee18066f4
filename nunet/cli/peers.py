"""`nunet peers`: the peers this node knows, their RTTs and scores, and links to other hubs."""

from __future__ import annotations

import time
from typing import Any

import click

from nunet.api import find_api
from nunet.cli.context import (
    SELF_BEHAVIOR,
    CliContext,
    NunetGroup,
    emit,
    local_actor,
    output_option,
    pass_context,
)
from nunet.peers import (
    CONNECT_BEHAVIOR,
    LIST_BEHAVIOR,
    PEER_PING_BEHAVIOR,
    PEERS_ACTOR_ID,
    SCORE_BEHAVIOR,
)

_NETWORK_TIMEOUT = 30.0  # ping and connect wait on other machines

_api_option = click.option("--api", default=None, help="API URL or Unix socket path.")


def _brief(rows: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """`peers list` as a table: the columns that fit a terminal (json/yaml give every field)."""
    return [
        {
            "did": row["did"],
            "state": row["state"],
            "addresses": " ".join(row["addresses"].values()) or row["node"],
            "rtt_ms": "-" if row["rtt_seconds"] is None else f"{row['rtt_seconds'] * 1000:.1f}",
            "missed": row["missed"],
            "lost": row["lost"],
            "score": f"{row['score']:.3f}",
            "seen": f"{max(0.0, now - row['last_seen']):.1f}s ago",
        }
        for row in rows
    ]


@click.group("peers", cls=NunetGroup)
def peers() -> None:
    """The peers this node has heard from, through the running node."""


@peers.command("list")
@_api_option
@pass_context
@output_option
def list_peers(ctx: CliContext, api: str | None) -> None:
    """Every known peer: state, addresses, RTT, missed heartbeats, score."""
    with find_api(ctx.home, api) as client:
        rows = client.invoke(LIST_BEHAVIOR, to=local_actor(client, PEERS_ACTOR_ID))
    if ctx.output == "table":
        if not rows:
            click.echo("no peers heard from yet")
            return
        rows = _brief(rows, time.time())
    emit(ctx, rows)


@peers.command("ping")
@click.argument("did")
@_api_option
@pass_context
@output_option
def ping(ctx: CliContext, did: str, api: str | None) -> None:
    """Measure the round trip to the peer DID now."""
    with find_api(ctx.home, api) as client:
        answer = client.invoke(
            PEER_PING_BEHAVIOR,
            {"did": did},
            to=local_actor(client, PEERS_ACTOR_ID),
            timeout=_NETWORK_TIMEOUT,
        )
    emit(ctx, answer)


@peers.command("self")
@_api_option
@pass_context
@output_option
def self_(ctx: CliContext, api: str | None) -> None:
    """This node as its peers see it: DID, address, handle."""
    with find_api(ctx.home, api) as client:
        emit(ctx, client.invoke(SELF_BEHAVIOR))


@peers.command("score")
@_api_option
@pass_context
@output_option
def score(ctx: CliContext, api: str | None) -> None:
    """Peers by score, best first (uptime, recency, heartbeat delivery, RTT)."""
    with find_api(ctx.home, api) as client:
        rows = client.invoke(SCORE_BEHAVIOR, to=local_actor(client, PEERS_ACTOR_ID))
    if ctx.output == "table" and not rows:
        click.echo("no peers heard from yet")
        return
    emit(ctx, rows)


@peers.command("connect")
@click.argument("address")
@_api_option
@pass_context
@output_option
def connect(ctx: CliContext, address: str, api: str | None) -> None:
    """Ask the mesh for a link to the hub at ADDRESS (e.g. tls://hub.example.org:7422)."""
    with find_api(ctx.home, api) as client:
        answer = client.invoke(
            CONNECT_BEHAVIOR,
            {"address": address},
            to=local_actor(client, PEERS_ACTOR_ID),
            timeout=_NETWORK_TIMEOUT,
        )
    emit(ctx, answer)
