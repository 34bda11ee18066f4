"""`nunet deploy` and `nunet deployments ...`: submit an ensemble to the running node's
orchestrator and follow, inspect, read the logs of and shut down its deployments.

The ensemble goes to the node as the file's text: the node parses and validates it, so the CLI
and the API refuse the same document with the same problems (each named by its path).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from nunet.api import ApiClient, find_api
from nunet.cli.context import CliContext, emit, local_actor, output_option, pass_context
from nunet.cli.results import download_results, result_rows
from nunet.ensemble import EnsembleError, parse_duration
from nunet.orchestrator.behaviors import (
    DEPLOYMENTS_ACTOR_ID,
    HISTORY_BEHAVIOR,
    LIST_BEHAVIOR,
    LOGS_BEHAVIOR,
    MANIFEST_BEHAVIOR,
    NEW_BEHAVIOR,
    RESULTS_BEHAVIOR,
    SHUTDOWN_BEHAVIOR,
    STATUS_BEHAVIOR,
    is_settled,
)

POLL_SECONDS = 0.25
CALL_TIMEOUT = 30.0
EXIT_FAILED = 1
EXIT_NOT_YET = 3  # --timeout passed before the deployment settled

_api_option = click.option("--api", default=None, help="API URL or Unix socket path.")
F = TypeVar("F", bound=Callable[..., Any])


def _seconds(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, option)
    except EnsembleError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _call(client: ApiClient, behavior: str, payload: Any, timeout: float = CALL_TIMEOUT) -> Any:
    return client.invoke(
        behavior, payload, to=local_actor(client, DEPLOYMENTS_ACTOR_ID), timeout=timeout
    )


def _follow(client: ApiClient, deployment: str, deadline: float | None) -> dict[str, Any]:
    """Print the deployment's history as it grows, until it settles or `deadline` passes."""
    shown = 0
    while True:
        history = _call(client, HISTORY_BEHAVIOR, {"deployment": deployment, "after": shown})
        for entry in history["entries"]:
            click.echo(f"{_clock(entry['at'])}  {entry['summary']}")
        shown = history["next"]
        if is_settled(history["state"], services=history["services"]):
            return dict(_call(client, STATUS_BEHAVIOR, {"deployment": deployment}))
        if deadline is not None and time.monotonic() >= deadline:
            return dict(_call(client, STATUS_BEHAVIOR, {"deployment": deployment}))
        time.sleep(POLL_SECONDS)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


@click.command("deploy")
@click.option(
    "--file",
    "-f",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The ensemble (YAML or JSON; nunet/v1 or NuNet DMS V1).",
)
@click.option("--follow", is_flag=True, help="Show progress until the deployment settles.")
@click.option("--timeout", default=None, help="With --follow: give up waiting after this (5m).")
@click.option(
    "--queue-timeout",
    default=None,
    help="How long the deployment may wait for machines that fit (10m); default: the node's.",
)
@click.option(
    "--id",
    "deployment_id",
    default=None,
    help="Your own id: a resubmission with the "
    "same id and ensemble answers the existing deployment instead of a second one.",
)
@_api_option
@pass_context
@output_option
def deploy(
    ctx: CliContext,
    path: Path,
    follow: bool,
    timeout: str | None,
    queue_timeout: str | None,
    deployment_id: str | None,
    api: str | None,
) -> None:
    """Deploy an ensemble across the swarm."""
    wait = _seconds(timeout, "--timeout")
    payload: dict[str, Any] = {"ensemble": path.read_text(), "source": path.name}
    queue = _seconds(queue_timeout, "--queue-timeout")
    if queue is not None:
        payload["queue_timeout"] = queue
    if deployment_id is not None:
        payload["id"] = deployment_id
    with find_api(ctx.home, api) as client:
        answer = _call(client, NEW_BEHAVIOR, payload)
        deployment = answer["deployment"]
        if not follow:
            emit(ctx, answer)
            return
        click.echo(f"deployment {deployment} ({answer['name']}) submitted")
        deadline = None if wait is None else time.monotonic() + wait
        status = _follow(client, deployment, deadline)
    _summarise(ctx, status)
    if status["state"] in ("failed", "expired", "shut_down"):
        raise SystemExit(EXIT_FAILED)
    if not is_settled(status["state"], services=status["services"]):
        click.echo(f"still {status['state']} after {timeout}", err=True)
        raise SystemExit(EXIT_NOT_YET)


def _summarise(ctx: CliContext, status: dict[str, Any]) -> None:
    if ctx.output != "table":
        emit(ctx, status)
        return
    click.echo(
        f"deployment {status['deployment']}: {status['state']}"
        + (f" ({status['why']})" if status.get("why") else "")
    )
    emit(ctx, _allocation_rows(status))


def _allocation_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "allocation": name,
            "node": view["node"],
            "provider": view["provider"] or "-",
            "state": view["state"],
            "runs": view["run"],
            "exit": "-" if view["exit_code"] is None else view["exit_code"],
            "health": {True: "healthy", False: "unhealthy", None: "-"}[view["healthy"]],
            "error": view["error"] or "-",
        }
        for name, view in status["allocations"].items()
    ]


@click.group("deployments")
def deployments() -> None:
    """Inspect and manage this node's deployments."""


@deployments.command("list")
@_api_option
@pass_context
@output_option
def list_deployments(ctx: CliContext, api: str | None) -> None:
    """Every deployment this node orchestrates (newest first)."""
    emit(ctx, _ask(ctx, api, LIST_BEHAVIOR, {}))


def _about_one(name: str) -> Callable[[F], click.Command]:
    """A `nunet deployments NAME DEPLOYMENT` command with the usual options."""

    def make(command: F) -> click.Command:
        wrapped = output_option(command)
        return deployments.command(name)(
            click.argument("deployment")(_api_option(pass_context(wrapped)))
        )

    return make


def _ask(
    ctx: CliContext, api: str | None, behavior: str, payload: Any, timeout: float = CALL_TIMEOUT
) -> Any:
    with find_api(ctx.home, api) as client:
        return _call(client, behavior, payload, timeout)


@_about_one("status")
def status(ctx: CliContext, deployment: str, api: str | None) -> None:
    """Its state, where each allocation runs and how it is doing."""
    _summarise(ctx, _ask(ctx, api, STATUS_BEHAVIOR, {"deployment": deployment}))


@_about_one("manifest")
def manifest(ctx: CliContext, deployment: str, api: str | None) -> None:
    """The ensemble as deployed: which peer runs each node, the allocation actors, ports."""
    emit(ctx, _ask(ctx, api, MANIFEST_BEHAVIOR, {"deployment": deployment}))


@_about_one("history")
def history(ctx: CliContext, deployment: str, api: str | None) -> None:
    """Everything that happened to it, in order (from the node's event log)."""
    answer = _ask(ctx, api, HISTORY_BEHAVIOR, {"deployment": deployment, "after": 0})
    if ctx.output != "table":
        emit(ctx, answer["entries"])
        return
    for entry in answer["entries"]:
        click.echo(f"{_clock(entry['at'])}  {entry['summary']}")


@deployments.command("results")
@click.argument("deployment")
@click.option(
    "--download",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Fetch every published object into this directory (made if missing).",
)
@_api_option
@pass_context
@output_option
def results(ctx: CliContext, deployment: str, directory: Path | None, api: str | None) -> None:
    """Where its allocations' outputs were published: objects, sizes, checksums, errors."""
    answer = _ask(ctx, api, RESULTS_BEHAVIOR, {"deployment": deployment})
    if directory is not None:
        download_results(ctx.home, answer, directory)
        return
    emit(ctx, answer if ctx.output != "table" else result_rows(answer))


@deployments.command("logs")
@click.argument("deployment")
@click.option("--allocation", "-a", default=None, help="Only this allocation's logs.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the deployment settles.")
@_api_option
@pass_context
def logs(
    ctx: CliContext, deployment: str, allocation: str | None, follow: bool, api: str | None
) -> None:
    """The allocations' output (kept after a task ends, until the deployment is torn down)."""
    since: dict[str, float] = {}
    with find_api(ctx.home, api) as client:
        while True:
            payload: dict[str, Any] = {"deployment": deployment, "since": since}
            if allocation is not None:
                payload["allocation"] = allocation
            answer = _call(client, LOGS_BEHAVIOR, payload)
            for name, lines in answer["logs"].items():
                for at, stream, text in lines:
                    prefix = f"{name} | " if allocation is None else ""
                    click.echo(prefix + text, err=stream == "stderr")
                    since[name] = max(since.get(name, 0.0), at)
            if not follow or is_settled(answer["state"], services=False):
                return
            time.sleep(POLL_SECONDS)


@_about_one("shutdown")
def shutdown(ctx: CliContext, deployment: str, api: str | None) -> None:
    """Stop every allocation and release every reservation."""
    emit(ctx, _ask(ctx, api, SHUTDOWN_BEHAVIOR, {"deployment": deployment}, timeout=120.0))
