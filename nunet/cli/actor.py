"""`nunet actor`: send, invoke and broadcast behaviors through the running node's API."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml

from nunet.api import find_api
from nunet.cli.context import CliContext, NunetGroup, emit, output_option, pass_context


def parse_args(pairs: tuple[str, ...], payload: str | None) -> Any:
    """`--payload JSON` as is, or `--arg k=v` pairs as a mapping (values read as YAML scalars)."""
    if payload is not None and pairs:
        raise click.UsageError("give either --payload or --arg, not both")
    if payload is not None:
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    result: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--arg")
        try:
            result[name] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            result[name] = value
    return result or None


def parse_target(to: str | None) -> dict[str, str] | None:
    """`--to DID/ACTOR/NODE` as a handle mapping."""
    if to is None:
        return None
    parts = to.split("/")
    if len(parts) != 3 or not all(parts):
        raise click.BadParameter(f"{to!r} is not DID/ACTOR/NODE", param_hint="--to")
    return {"did": parts[0], "actor": parts[1], "node": parts[2]}


_api_option = click.option("--api", default=None, help="API URL or Unix socket path.")
_arg_option = click.option("--arg", "args", multiple=True, help="Payload field KEY=VALUE.")
_payload_option = click.option("--payload", default=None, help="Payload as JSON.")
_to_option = click.option(
    "--to", default=None, help="Recipient DID/ACTOR/NODE (default: this node)."
)


@click.group("actor", cls=NunetGroup)
def actor() -> None:
    """Talk to actors through the running node, as the local user."""


@actor.command("cmd")
@click.argument("behavior")
@_arg_option
@_payload_option
@_to_option
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=300), default=10.0)
@_api_option
@pass_context
@output_option
def cmd(
    ctx: CliContext,
    behavior: str,
    args: tuple[str, ...],
    payload: str | None,
    to: str | None,
    timeout: float,
    api: str | None,
) -> None:
    """Invoke BEHAVIOR (e.g. /public/status) and print the reply."""
    body, target = parse_args(args, payload), parse_target(to)
    with find_api(ctx.home, api) as client:
        emit(ctx, client.invoke(behavior, body, to=target, timeout=timeout))


@actor.command("send")
@click.argument("behavior")
@_arg_option
@_payload_option
@_to_option
@_api_option
@pass_context
@output_option
def send(
    ctx: CliContext,
    behavior: str,
    args: tuple[str, ...],
    payload: str | None,
    to: str | None,
    api: str | None,
) -> None:
    """Send BEHAVIOR one-way (no reply)."""
    body, target = parse_args(args, payload), parse_target(to)
    with find_api(ctx.home, api) as client:
        client.send(behavior, body, to=target)
    emit(ctx, {"sent": behavior})


@actor.command("broadcast")
@click.argument("topic")
@click.argument("behavior")
@_arg_option
@_payload_option
@_api_option
@pass_context
@output_option
def broadcast(
    ctx: CliContext,
    topic: str,
    behavior: str,
    args: tuple[str, ...],
    payload: str | None,
    api: str | None,
) -> None:
    """Broadcast BEHAVIOR on TOPIC to every subscribed actor."""
    body = parse_args(args, payload)
    with find_api(ctx.home, api) as client:
        client.broadcast(topic, behavior, body)
    emit(ctx, {"broadcast": behavior, "topic": topic})
