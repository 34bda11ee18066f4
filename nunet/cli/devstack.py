"""`nunet devstack --nodes N`: a local swarm (a hub and N nodes) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import tempfile
from pathlib import Path

import click
import msgspec

from nunet.cli.context import CliContext, emit, output_option, pass_context
from nunet.devstack import DevStack, StackError, StackPlan
from nunet.node.config import OrchestratorConfig

_ORCHESTRATOR = OrchestratorConfig()


@click.command("devstack")
@click.option("--nodes", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the nodes' homes go (default: a new temporary directory).",
)
@click.option("--heartbeat", type=click.FloatRange(0.05, 60), default=1.0, show_default=True)
@click.option("--open-swarm", is_flag=True, help="Join the open public swarm (no swarm key).")
@click.option(
    "--benchmark",
    is_flag=True,
    help="Benchmark each node's share after onboarding (off: the nodes share one machine).",
)
@click.option(
    "--member-indexes",
    is_flag=True,
    help="Every node keeps the swarm's capability index (off: only the hub; each would read "
    "every node's log on this one machine).",
)
@click.option(
    "--allocation-heartbeat",
    type=click.FloatRange(0.05, 300),
    default=_ORCHESTRATOR.heartbeat_seconds,
    show_default=True,
    help="How often running allocations report to their orchestrator (seconds).",
)
@click.option(
    "--missed-heartbeats",
    type=click.IntRange(2, 100),
    default=_ORCHESTRATOR.missed_heartbeats,
    show_default=True,
    help="Allocation heartbeats missed before an orchestrator deems the machine lost.",
)
@pass_context
@output_option
def devstack(
    ctx: CliContext,
    nodes: int,
    directory: Path | None,
    heartbeat: float,
    open_swarm: bool,
    benchmark: bool,
    member_indexes: bool,
    allocation_heartbeat: float,
    missed_heartbeats: int,
) -> None:
    """Start a hub and N nodes as separate processes on loopback; stop them all on Ctrl-C."""
    where = directory or Path(tempfile.mkdtemp(prefix="nunet-devstack-"))
    plan = StackPlan(
        where,
        nodes,
        heartbeat_seconds=heartbeat,
        private=not open_swarm,
        benchmark_on_onboard=benchmark,
        member_indexes=member_indexes,
        orchestrator=msgspec.structs.replace(
            _ORCHESTRATOR,
            heartbeat_seconds=allocation_heartbeat,
            missed_heartbeats=missed_heartbeats,
        ),
    )
    if not asyncio.run(_run(ctx, plan)):
        raise click.ClickException("a node of the devstack stopped on its own; see its node.log")


async def _run(ctx: CliContext, plan: StackPlan) -> bool:
    """True when stopped by a signal, False when a node exited by itself."""
    stack = DevStack(plan)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # Ctrl-C during start: start() stops what it started
        starting.cancel()
        await asyncio.wait({starting})
        return True
    stopping.cancel()
    try:
        nodes = starting.result()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    emit(ctx, [dataclasses.asdict(node) for node in nodes])
    click.echo(
        f"\ndevstack of {len(nodes)} processes under {plan.directory} "
        f"(manifest: {plan.manifest}); Ctrl-C stops them all.\n"
        f"Talk to a node: nunet --home {plan.nodes[0].home} "
        f"--passphrase-file {plan.passphrase_file} peers list",
        err=True,
    )
    crashed = asyncio.create_task(stack.wait_for_exit())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({crashed, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    crashed.cancel()
    by_signal = stop.is_set()
    if not by_signal:
        click.echo(f"devstack: {crashed.result().name} exited; stopping the others", err=True)
    await stack.stop()
    click.echo("devstack: every process stopped", err=True)
    return by_signal
